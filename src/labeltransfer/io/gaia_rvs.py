"""Gaia DR3 RVS mean spectra (DataLink ``RVS``, CSV): 846-870 nm, 0.01 nm steps, 2,401 pixels.

The spectra are already normalised to the pseudo-continuum. Two layouts are read, as the
DataLink ``DATA_STRUCTURE`` gives them (:mod:`labeltransfer.io.gaia_archive`), by
:func:`read_rvs`:

- ``RAW``: one row per source, ``flux`` and ``flux_error`` written as arrays in one CSV cell
  (``(v1, v2, ...)`` or ``[v1, v2, ...]``);
- ``INDIVIDUAL``: one file per source (``RVS-Gaia DR3 <source_id>.csv``), one row per pixel
  with ``wavelength`` (nm), ``flux`` and ``flux_error``; the source_id is taken from its
  column where there is one, else from the file name.

The bulk-download files are read, block by block, by :mod:`labeltransfer.io.gaia_rvs_bulk`.

NaN (or an empty value) marks a pixel without data, which gets an infinite error here.
"""

import logging
import re

import numpy as np
import pandas as pd

from . import FileFormatError, path_list, table_files

__all__ = ["RVS_WAVELENGTH", "RVSFormatError", "read_rvs", "masked_error"]

log = logging.getLogger(__name__)

#: Pixel wavelengths of the RVS mean spectra, nm.
RVS_WAVELENGTH = np.round(np.arange(846.0, 870.0 + 0.005, 0.01), 2)
#: The source_id in the name of a per-source DataLink file (``RVS-Gaia DR3 <source_id>.csv``).
NAME_SOURCE_ID = re.compile(r"Gaia DR3 (\d+)\.\w+(?:\.gz)?$")


class RVSFormatError(FileFormatError):
    """An RVS file that cannot be used."""


def read_rvs(paths):
    """Read RVS mean spectra from DataLink replies (CSV files, or the zip archives holding them).

    Returns
    -------
    dict
        ``source_id`` (int64), ``flux`` and ``flux_error`` (float32, (n, 2401); error
        infinite where the flux is missing), ``wavelength`` (nm).

    Raises
    ------
    RVSFormatError
        Unreadable file, missing column, an array of another length or wavelengths off the
        RVS grid (the file and source are named).
    """
    ids, fluxes, errors = [], [], []
    for path in path_list(paths):
        for name, source in table_files(path, RVSFormatError):
            try:
                table = pd.read_csv(source, comment="#")
            except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
                raise RVSFormatError(f"{name}: cannot read the RVS CSV ({error})") from error
            per_pixel = "wavelength" in table.columns and pd.api.types.is_numeric_dtype(table.get("flux"))
            for source_id, flux, error in (_per_pixel(table, name) if per_pixel else _per_source(table, name)):
                ids.append(source_id)
                fluxes.append(flux.astype(np.float32))
                errors.append(masked_error(flux, error))
    ids = np.asarray(ids, dtype=np.int64)
    _, first = np.unique(ids, return_index=True)
    if len(first) < len(ids):
        log.warning("%d RVS rows repeat a source_id; the first is kept", len(ids) - len(first))
    first = np.sort(first)
    flux = np.array(fluxes)[first]
    return {"source_id": ids[first], "flux": np.where(np.isfinite(flux), flux, 0.0).astype(np.float32),
            "flux_error": np.array(errors)[first], "wavelength": RVS_WAVELENGTH.copy()}


def masked_error(flux, error):
    """The flux error, infinite where the flux or its error is missing (float32)."""
    return np.where(np.isfinite(flux) & np.isfinite(error) & (error > 0), error, np.inf).astype(np.float32)


def _need(table, columns, name):
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise RVSFormatError(f"{name}: missing required column(s) {', '.join(missing)}")


def _per_source(table, name):
    """(source_id, flux, error) of each row of a file with one row per source."""
    _need(table, ("source_id", "flux", "flux_error"), name)
    for row in table.itertuples(index=False):
        yield row.source_id, _array(row.flux, name, row.source_id), _array(row.flux_error, name, row.source_id)


def _per_pixel(table, name):
    """(source_id, flux, error) of each source of a file with one row per pixel."""
    _need(table, ("wavelength", "flux", "flux_error"), name)
    if "source_id" not in table.columns:
        match = NAME_SOURCE_ID.search(name)
        if match is None:
            raise RVSFormatError(f"{name}: one row per pixel, but no source_id column and no "
                                 "'Gaia DR3 <source_id>' in the file name")
        table = table.assign(source_id=int(match[1]))
    for source_id, pixels in table.groupby("source_id", sort=False):
        wavelength = pixels["wavelength"].to_numpy(dtype=float)
        index = np.rint((wavelength - RVS_WAVELENGTH[0]) / 0.01).astype(int)
        on_grid = (index >= 0) & (index < RVS_WAVELENGTH.size)
        on_grid[on_grid] = np.abs(wavelength[on_grid] - RVS_WAVELENGTH[index[on_grid]]) < 1e-3
        if not on_grid.all():
            raise RVSFormatError(f"{name}: source {source_id} has wavelengths off the RVS grid (846-870 nm in "
                                 f"0.01 nm steps), e.g. {wavelength[~on_grid][0]} nm")
        flux, error = np.full((2, RVS_WAVELENGTH.size), np.nan)
        flux[index] = pixels["flux"].to_numpy(dtype=float)
        error[index] = pixels["flux_error"].to_numpy(dtype=float)
        yield source_id, flux, error


def _array(cell, name, source_id):
    """One CSV array cell as floats; empty entries become NaN."""
    text = str(cell).strip().strip("()[]")
    values = np.array([float(v) if v.strip() not in ("", "null", "nan", "NaN") else np.nan
                       for v in text.split(",")])
    if values.size != RVS_WAVELENGTH.size:
        raise RVSFormatError(f"{name}: source {source_id} has {values.size} RVS pixels, expected "
                             f"{RVS_WAVELENGTH.size}")
    return values
