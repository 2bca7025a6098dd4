"""A survey catalogue's file: its columns' units and descriptions, what its flag bits mean and its
provenance, in the format its name's suffix asks for, written whole or not at all.

- ``.parquet``: each field's metadata holds its ``unit`` and ``description``; the file's metadata
  the provenance (key ``labeltransfer``, JSON), an astropy table header (``table_meta_yaml``: so
  ``astropy.table.Table.read`` gives the units, descriptions and ``meta["labeltransfer"]``) and
  pandas' ``attrs`` (``pandas.read_parquet(path).attrs``: ``units``, ``descriptions``,
  ``labeltransfer``).
- ``.fits``: a binary table (HDU 1, ``LABELS``) with ``TUNITn`` and ``TCOMMn`` per column (TOPCAT
  shows both), ``FLAGn`` keywords saying what each bit means and the provenance as JSON in
  ``LTPROV`` (long-string convention).
- ``.ecsv``: astropy's text table (CSV with a YAML header of units, descriptions and the
  provenance; ``pandas.read_csv(path, comment="#")`` reads the rows).

A ``.csv`` name is refused: a plain CSV can hold none of this. A catalogue is written to a hidden
``.<name>.part`` beside it (which ``pandas.read_parquet(folder)`` and pyarrow's datasets skip, as
they skip names starting with ``.`` or ``_``) and renamed when whole.
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..data.predictions import prediction_table
from ..diagnostics.ood import SURVEY_FLAG_MEANINGS, SURVEY_FLAGS

__all__ = ["FORMATS", "METADATA_KEY", "CatalogueNameError", "catalogue_format", "column_descriptions",
           "catalogue_rows", "write_catalogue", "read_catalogue", "catalogue_metadata", "written_whole"]

#: Catalogue formats, by the suffix of the file's name.
FORMATS = {".parquet": "parquet", ".fits": "fits", ".ecsv": "ecsv"}
#: Metadata key of the provenance in a Parquet catalogue (``LTPROV`` in a FITS header).
METADATA_KEY = b"labeltransfer"
#: Units of the labels (astropy's, and the FITS standard's where they differ) and what each is.
_LABELS = {"teff": ("K", "K", "effective temperature"),
           "logg": ("dex(cm / s2)", "log(cm.s**-2)", "surface gravity, log10(g / (cm s-2))")}
#: FITS binary-table formats of the columns' types.
_FITS_FORMATS = {"int64": "K", "int16": "I", "float32": "E", "float64": "D"}


class CatalogueNameError(ValueError):
    """A catalogue name whose suffix names no format this package writes."""


def catalogue_format(path):
    """The format (``"parquet"``, ``"fits"``, ``"ecsv"``) that ``path``'s suffix asks for.

    Raises
    ------
    CatalogueNameError
        Another suffix (``.csv`` with what to use instead).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        raise CatalogueNameError(f"{path}: a .csv file cannot hold the catalogue's units, flag meanings and "
                                 "provenance: name it .ecsv (CSV with a YAML header; pandas.read_csv(path, "
                                 "comment='#') reads it), .fits or .parquet")
    if suffix not in FORMATS:
        raise CatalogueNameError(f"{path}: no catalogue format for {suffix or 'a name without suffix'!r}: name it "
                                 f"{', '.join(FORMATS)}")
    return FORMATS[suffix]


def _label_description(label):
    """(unit, FITS unit, what it is) of a label; abundance ratios (``fe_h``, ``alpha_m``, ``mg_fe``) in dex."""
    if label in _LABELS:
        return _LABELS[label]
    first, _, second = label.partition("_")
    if second:
        return "dex", "dex", f"abundance ratio [{first.capitalize()}/{second.capitalize()}]"
    return None, None, label


def column_descriptions(label_names):
    """``{column: (unit, FITS unit, description)}`` of a catalogue with these labels (unit None: none)."""
    bits = "; ".join(f"{bit} {name}" for name, bit in SURVEY_FLAGS.items())
    columns = {"source_id": (None, None, "Gaia DR3 source_id, as in the input file"),
               "snr": ("", None, "median per-pixel S/N (flux / flux_error) of the spectrum as labelled, masked "
                                 "pixels left out")}
    for label in label_names:
        unit, fits_unit, what = _label_description(label)
        columns[label] = (unit, fits_unit, f"{what}, on the scale of the training labels (provenance: trained_on)")
        columns[f"{label}_err"] = (unit, fits_unit, f"calibrated 1-sigma uncertainty of {label} (validation split)")
    columns["flags"] = (None, None, f"sum of bits ({bits}; meanings in the file's metadata); 0: none")
    return columns


def catalogue_rows(source_id, snr, label_names, labels, sigma, flags):
    """A catalogue's rows, its columns those of :func:`column_descriptions` (the prediction table of
    :func:`labeltransfer.data.predictions.prediction_table`): ``source_id`` as given, ``snr``, the
    labels and their ``<label>_err`` as float32, ``flags`` as int16.

    Parameters
    ----------
    source_id : ndarray of int, shape (n_sources,)
    snr : ndarray, shape (n_sources,)
    label_names : sequence of str, length n_labels
    labels, sigma : ndarray, shape (n_sources, n_labels)
    flags : ndarray of int, shape (n_sources,)
    """
    return prediction_table("source_id", source_id, snr, label_names, labels, sigma, flags=flags.astype(np.int16),
                            dtype=np.float32)


@contextmanager
def written_whole(path):
    """Yield the temporary name to write ``path`` under, ``.<name>.part`` beside it (which readers of
    the folder skip), and rename it to ``path`` once the block ends; on any failure remove it, so
    that a file is there whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    try:
        yield part
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def write_catalogue(table, path, provenance, label_names):
    """Write a catalogue (a DataFrame of ``source_id``, ``snr``, labels, ``<label>_err``, ``flags``)
    in the format of ``path``'s suffix (:func:`catalogue_format`), with its columns' units and
    descriptions, the flag bits' meanings and ``provenance``; whole or not at all."""
    writer = {"parquet": _write_parquet, "fits": _write_fits, "ecsv": _write_ecsv}[catalogue_format(path)]
    provenance = json.loads(json.dumps({**provenance, "flag_bits": _flag_bits()}, default=str))  # plain types
    with written_whole(path) as part:
        writer(table, part, provenance, column_descriptions(label_names))


def _flag_bits():
    return {str(bit): f"{name}: {SURVEY_FLAG_MEANINGS[name]}" for name, bit in SURVEY_FLAGS.items()}


def _write_parquet(table, path, provenance, columns):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    fields = [field.with_metadata({"unit": columns[field.name][0] or "", "description": columns[field.name][2]})
              for field in arrow.schema]
    astropy_header = {"datatype": [{"name": name, "datatype": str(values.dtype),
                                    **({"unit": columns[name][0]} if columns[name][0] else {}),
                                    "description": columns[name][2]} for name, values in table.items()],
                      "meta": {"labeltransfer": provenance}}
    attrs = {"units": {name: unit for name, (unit, _, _) in columns.items() if unit},
             "descriptions": {name: description for name, (_, _, description) in columns.items()},
             "labeltransfer": provenance}
    metadata = {**arrow.schema.metadata, METADATA_KEY: json.dumps(provenance).encode(),
                b"table_meta_yaml": yaml.safe_dump(astropy_header, sort_keys=False).encode(),
                b"PANDAS_ATTRS": json.dumps(attrs).encode()}
    pq.write_table(pa.Table.from_arrays(arrow.columns, schema=pa.schema(fields, metadata=metadata)), path)


def _write_fits(table, path, provenance, columns):
    from astropy.io import fits

    hdu = fits.BinTableHDU.from_columns(
        [fits.Column(name=name, format=_FITS_FORMATS[str(values.dtype)], unit=columns[name][1], array=values.to_numpy())
         for name, values in table.items()], name="LABELS")
    for k, name in enumerate(table.columns, start=1):
        hdu.header[f"TCOMM{k}"] = columns[name][2]
    for bit, meaning in provenance["flag_bits"].items():
        hdu.header[f"FLAG{bit}"] = meaning
    hdu.header["LTPROV"] = (json.dumps(provenance), "labeltransfer provenance (JSON)")
    with open(path, "wb") as handle:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(handle)


def _write_ecsv(table, path, provenance, columns):
    from astropy.table import Table

    astropy_table = Table.from_pandas(table)
    for name, (unit, _, description) in columns.items():
        astropy_table[name].unit = unit or None
        astropy_table[name].description = description
    astropy_table.meta["labeltransfer"] = provenance
    with open(path, "w") as handle:
        astropy_table.write(handle, format="ascii.ecsv", delimiter=",")


def read_catalogue(paths, columns=None):
    """One table of Parquet catalogue files (a method's chunks read as one), with only ``columns`` if given."""
    import pyarrow.dataset as ds

    return ds.dataset([str(p) for p in paths], format="parquet").to_table(columns=columns).to_pandas()


def catalogue_metadata(path):
    """The provenance written in a catalogue file (Parquet, FITS or ECSV)."""
    kind = catalogue_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return json.loads(pq.read_schema(path).metadata[METADATA_KEY])
    if kind == "fits":
        from astropy.io import fits

        return json.loads(fits.getheader(path, 1)["LTPROV"])
    from astropy.table import Table

    return dict(Table.read(path, format="ascii.ecsv").meta["labeltransfer"])
