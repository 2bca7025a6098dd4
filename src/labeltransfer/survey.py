"""Label stars that have no labels: a survey's spectra, block by block, with trained models.

A survey file (a Gaia XP or RVS bulk chunk, a DataLink reply, or sampled spectra in ``.npz``) is
read ``block_rows`` sources at a time; each block is put on the model's pixel grid (XP: one matrix
product with the XP basis, :class:`labeltransfer.xp_basis.XPSampler`, then divided by its median
flux as the training library is), labelled by every model, flagged, and appended to each model's
catalogue. Memory is bounded by the block, not by the file. A catalogue is a Parquet file: one row
per source with ``source_id``, ``snr``, each label and its calibrated 1-sigma ``<label>_err``, and
``flags`` (:data:`SURVEY_FLAGS`); its metadata (key ``labeltransfer``) hold the provenance: the
model file's SHA-256, the sample, split and seed it was trained on, the package version, the
data release and the survey file.
"""

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import __version__
from .io import SurveyFormatError, path_list
from .io.checksums import file_checksum
from .io.gaia_bulk import bulk_tables
from .io.gaia_rvs import RVS_WAVELENGTH
from .io.gaia_rvs_bulk import rvs_blocks
from .io.gaia_xp_bulk import xp_blocks
from .io.xp_library import XP_WAVELENGTH
from .methods import IncompatibleDataError
from .ood import SURVEY_FLAGS, OODReference
from .spectra import Spectra
from .xp_basis import XPSampler

__all__ = ["SURVEY_FLAGS", "SurveyModel", "survey_blocks", "normalised_spectra", "label_file", "read_catalogue", "catalogue_metadata"]

log = logging.getLogger(__name__)

#: Metadata key of the provenance in a catalogue file.
METADATA_KEY = b"labeltransfer"


@dataclass
class SurveyModel:
    """A trained model, where it came from, and (optionally) its training set's side of the flags:
    ``reference`` for the spectrum and label flags, ``misfit_reference`` (the model's
    ``misfit_reference`` of its training stars) for its own."""

    name: str
    model: object
    path: Path
    reference: OODReference = None
    misfit_reference: float = None
    reference_file: dict = None

    def provenance(self):
        """The model's file, its SHA-256, and what it was trained on."""
        provenance = {"method": self.name, "model_file": str(self.path), "model_sha256": file_checksum(self.path),
                      "trained_on": self.model.provenance_, "method_type": self.model.method_type}
        if self.reference_file:
            provenance["flags_reference"] = self.reference_file
        return provenance

    def write_reference(self, path):
        """Save the training set's side of the flags (``.npz``), for chunk jobs to :meth:`read_reference`
        instead of each reading the training set: ``reference``, ``misfit_reference`` (a number, or
        None) and the model file's SHA-256."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        has_misfit = self.misfit_reference is not None
        with open(part, "wb") as handle:
            np.savez(handle, **self.reference.to_arrays(), has_misfit_reference=has_misfit,
                     misfit_reference=float(self.misfit_reference) if has_misfit else np.nan,
                     model_sha256=file_checksum(self.path))
        os.replace(part, path)

    def read_reference(self, path):
        """Take the flags' reference that :meth:`write_reference` saved for this model file; return self.

        Raises
        ------
        IncompatibleDataError
            The file was saved for another model file (another training, or another method), with
            another seed than the model's, or by a version with other settings of the flags.
        """
        with np.load(path) as arrays:
            missing = sorted({"model_sha256", "misfit_reference", "has_misfit_reference", "settings"}
                             - set(arrays.files))
            if missing:
                raise IncompatibleDataError(f"{path} is no flags reference of this version (no {', '.join(missing)}): "
                                            "make it anew")
            if str(arrays["model_sha256"]) != file_checksum(self.path):
                raise IncompatibleDataError(f"{path} holds the flags' reference of another model than {self.path} "
                                            "(retrained since?): make it anew")
            try:
                reference = OODReference.from_arrays(arrays)
            except ValueError as error:
                raise IncompatibleDataError(f"{path}: {error}: make it anew") from error
            misfit = float(arrays["misfit_reference"]) if bool(arrays["has_misfit_reference"]) else None
        seed = (self.model.provenance_ or {}).get("seed")
        if seed is not None and reference.seed != seed:
            raise IncompatibleDataError(f"{path}: the flags' thresholds were drawn with seed {reference.seed}, "
                                        f"{self.path} was trained with seed {seed}: make it anew")
        self.reference, self.misfit_reference = reference, misfit
        self.reference_file = {"file": str(path), "sha256": file_checksum(path)}
        return self


def survey_blocks(paths, block_rows, threads=1):
    """Yield ``(source_id, Spectra, missing_band)`` of survey files, ``block_rows`` sources at a time.

    ``paths``, one file or several, each told apart by its columns:

    - XP continuous coefficients (``bp_coefficients``, ...: a ``XpContinuousMeanSpectrum`` bulk
      chunk, a DataLink CSV or its zip reply), sampled on the XP library's grid and divided by each spectrum's
      median flux, as the library's and the XP archive tasks' spectra are;
    - RVS mean spectra (``flux``, ``flux_error``: a ``RvsMeanSpectrum`` bulk chunk, a ``RAW``
      DataLink CSV or its zip reply), as the archive gives them (normalised to the pseudo-continuum), as the RVS
      tasks' are;
    - sampled spectra (``.npz`` with ``source_id``, ``flux``, ``flux_error``, ``wavelength``),
      divided by their median flux.

    ``threads`` > 1: the text is parsed on Arrow's thread pool.
    """
    for path in path_list(paths):
        yield from _file_blocks(Path(path), block_rows, threads)


def _file_blocks(path, block_rows, threads):
    if path.suffix == ".npz":
        yield from _sampled_blocks(path, block_rows)
        return
    for name, handle, columns in bulk_tables(path):
        if "bp_coefficients" in columns:
            sampler = XPSampler(XP_WAVELENGTH)
            for block in xp_blocks(handle, columns, name, block_rows, threads):
                flux, error = sampler.sample(block.coefficients, block.errors, block.correlations)
                yield block.source_id, normalised_spectra(flux, error, XP_WAVELENGTH), ~block.has_band().all(axis=1)
        elif {"flux", "flux_error"} <= set(columns):
            for source_id, flux, error in rvs_blocks(handle, columns, name, block_rows, threads):
                yield source_id, Spectra(flux, error, RVS_WAVELENGTH.copy(), np.empty((len(flux), 0)), ()), \
                    np.zeros(len(source_id), bool)
        else:
            raise SurveyFormatError(f"{name}: neither XP continuous coefficients (bp_coefficients, ...) nor RVS "
                                    f"spectra (flux, flux_error); its columns: {', '.join(sorted(columns))}")


def _sampled_blocks(path, block_rows):
    with np.load(path) as arrays:
        missing = [key for key in ("source_id", "flux", "flux_error", "wavelength") if key not in arrays.files]
        if missing:
            raise IncompatibleDataError(f"{path}: sampled spectra need the arrays source_id, flux, flux_error and "
                                        f"wavelength; missing {', '.join(missing)}")
        source_id, flux, error, wavelength = (arrays[key] for key in ("source_id", "flux", "flux_error", "wavelength"))
    for lo in range(0, len(source_id), block_rows):
        rows = slice(lo, lo + block_rows)
        block_error = np.where(np.isfinite(error[rows]), error[rows], np.inf)
        yield source_id[rows], normalised_spectra(flux[rows], block_error, wavelength), np.zeros(len(source_id[rows]), bool)


def normalised_spectra(flux, error, wavelength):
    """Spectra (float32, no auxiliary features) divided by their median flux (over the unmasked pixels), as the library's are."""
    usable = np.isfinite(flux) & np.isfinite(error)
    median = np.empty(len(flux))
    whole = usable.all(axis=1)
    median[whole] = np.median(flux[whole], axis=1, overwrite_input=True)  # a copy already
    partial = np.flatnonzero(~whole)  # a missing band or masked pixels: the median of the rest
    if len(partial):
        median[partial] = np.nanmedian(np.where(usable[partial], flux[partial], np.nan), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = 1.0 / median[:, None]
        normalised = np.multiply(flux, scale, out=np.empty(flux.shape, np.float32), casting="same_kind")
        normalised_error = np.multiply(error, np.abs(scale), out=np.empty(flux.shape, np.float32),
                                       casting="same_kind")
    masked = ~np.isfinite(normalised)
    normalised[masked] = 0.0
    normalised_error[masked] = np.inf
    return Spectra(normalised, normalised_error, np.asarray(wavelength, dtype=float), np.empty((len(flux), 0)), ())


def label_file(path, models, outputs, *, block_rows=2_000, metadata=None, threads=1, progress=True):
    """Label every source of a survey file with every model and write one catalogue per model.

    Parameters
    ----------
    path : path or list of path
        The survey file, or files labelled into one catalogue (:func:`survey_blocks`).
    models : list of SurveyModel
    outputs : list of path
        One Parquet catalogue per model, written whole or not at all (``.part`` then renamed).
    block_rows : int
        Sources read, converted and labelled at a time.
    metadata : dict, optional
        Added to each catalogue's provenance (the data release, the config).
    threads : int
        Threads of the text parsing and of the neighbour searches of the flags (the models have theirs).

    Returns
    -------
    dict
        ``{"n_sources": ..., "seconds": ...}``
    """
    start = time.perf_counter()
    tables = [[] for _ in models]
    files = [str(p) for p in path_list(path)]
    name = Path(files[0]).name if len(files) == 1 else f"{len(files)} files"
    bar = tqdm(desc=f"labelling {name}", unit="star", mininterval=2.0, disable=not progress)
    n_sources = 0
    for source_id, spectra, missing_band in survey_blocks(path, block_rows, threads):
        for survey_model, parts in zip(models, tables):
            parts.append(_label_block(survey_model, source_id, spectra, missing_band, threads))
        n_sources += len(source_id)
        bar.update(len(source_id))
    bar.close()
    seconds = time.perf_counter() - start
    provenance = {"package_version": __version__, "survey_file": files[0] if len(files) == 1 else files,
                  "n_sources": n_sources, **(metadata or {})}
    for survey_model, parts, output in zip(models, tables, outputs):
        table = pd.concat(parts, ignore_index=True) if parts else _empty_table(survey_model)
        _write_catalogue(table, output, {**provenance, **survey_model.provenance()})
    log.info("%s: %d sources labelled by %d models in %.1f s (%.0f sources/s)", name, n_sources, len(models),
             seconds, n_sources / max(seconds, 1e-9))
    return {"n_sources": n_sources, "seconds": seconds}


def _label_block(survey_model, source_id, spectra, missing_band, threads):
    model = survey_model.model
    try:
        model.check_compatible(spectra)
    except IncompatibleDataError as error:
        raise IncompatibleDataError(f"{survey_model.path}: {error}") from error
    flags = SURVEY_FLAGS["missing_band"] * missing_band.astype(np.int64)
    if survey_model.reference is None:
        labels, sigma = model.predict(spectra)
    else:
        labels, sigma, misfit = model.predict_and_flag(spectra, survey_model.misfit_reference)
        flags = flags + survey_model.reference.flags(spectra, labels, misfit, workers=threads)
    table = pd.DataFrame({"source_id": source_id, "snr": spectra.snr().astype(np.float32)})
    for k, name in enumerate(model.label_names_):
        table[name], table[f"{name}_err"] = labels[:, k].astype(np.float32), sigma[:, k].astype(np.float32)
    table["flags"] = flags.astype(np.int16)
    return table


def _empty_table(survey_model):
    columns = {"source_id": np.empty(0, np.int64), "snr": np.empty(0, np.float32)}
    for name in survey_model.model.label_names_:
        columns[name], columns[f"{name}_err"] = np.empty(0, np.float32), np.empty(0, np.float32)
    return pd.DataFrame({**columns, "flags": np.empty(0, np.int16)})


def _write_catalogue(table, output, provenance):
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           METADATA_KEY: json.dumps(provenance, default=str).encode()})
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    pq.write_table(arrow, part)
    os.replace(part, output)


def read_catalogue(paths, columns=None):
    """One table of catalogue files (a method's chunks read as one), with only ``columns`` if given."""
    import pyarrow.dataset as ds

    return ds.dataset([str(p) for p in paths], format="parquet").to_table(columns=columns).to_pandas()


def catalogue_metadata(path):
    """The provenance written in a catalogue file."""
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[METADATA_KEY])
