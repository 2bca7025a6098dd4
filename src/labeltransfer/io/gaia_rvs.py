"""Gaia DR3 RVS mean spectra (DataLink ``RVS``, CSV): 846-870 nm, 0.01 nm steps, 2,401 pixels.

The archive gives each spectrum's ``flux`` and ``flux_error`` as arrays written in one CSV
cell (``(v1, v2, ...)`` or ``[v1, v2, ...]``), already normalised to the pseudo-continuum;
NaN (or an empty value) marks a pixel without data, which gets an infinite error here.
"""

import logging

import numpy as np
import pandas as pd

from . import path_list

__all__ = ["RVS_WAVELENGTH", "RVSFormatError", "read_rvs"]

log = logging.getLogger(__name__)

#: Pixel wavelengths of the RVS mean spectra, nm.
RVS_WAVELENGTH = np.round(np.arange(846.0, 870.0 + 0.005, 0.01), 2)


class RVSFormatError(ValueError):
    """An RVS file that cannot be used."""


def read_rvs(paths):
    """Read RVS mean spectra from one or more DataLink CSV files.

    Returns
    -------
    dict
        ``source_id`` (int64), ``flux`` and ``flux_error`` (float32, (n, 2401); error
        infinite where the flux is missing), ``wavelength`` (nm).

    Raises
    ------
    RVSFormatError
        Unreadable file, missing column, or an array of another length (the row is named).
    """
    ids, fluxes, errors = [], [], []
    for path in path_list(paths):
        try:
            table = pd.read_csv(path)
        except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
            raise RVSFormatError(f"{path}: cannot read the RVS CSV ({error})") from error
        missing = [c for c in ("source_id", "flux", "flux_error") if c not in table.columns]
        if missing:
            raise RVSFormatError(f"{path}: missing required column(s) {', '.join(missing)}")
        for row in table.itertuples(index=False):
            flux, error = _array(row.flux, path, row.source_id), _array(row.flux_error, path, row.source_id)
            ids.append(row.source_id)
            fluxes.append(flux)
            errors.append(np.where(np.isfinite(flux) & np.isfinite(error) & (error > 0), error, np.inf))
    ids = np.asarray(ids, dtype=np.int64)
    _, first = np.unique(ids, return_index=True)
    if len(first) < len(ids):
        log.warning("%d RVS rows repeat a source_id; the first is kept", len(ids) - len(first))
    first = np.sort(first)
    flux = np.array(fluxes)[first]
    return {"source_id": ids[first], "flux": np.where(np.isfinite(flux), flux, 0.0).astype(np.float32),
            "flux_error": np.array(errors)[first].astype(np.float32), "wavelength": RVS_WAVELENGTH.copy()}


def _array(cell, path, source_id):
    """One CSV array cell as floats; empty entries become NaN."""
    text = str(cell).strip().strip("()[]")
    values = np.array([float(v) if v.strip() not in ("", "null", "nan", "NaN") else np.nan
                       for v in text.split(",")])
    if values.size != RVS_WAVELENGTH.size:
        raise RVSFormatError(f"{path}: source {source_id} has {values.size} RVS pixels, expected "
                             f"{RVS_WAVELENGTH.size}")
    return values
