"""Gaia DR3 XP continuous spectra (``xp_continuous_mean_spectrum``) -> sampled spectra.

The archive serves the BP and RP spectra as basis-function coefficients (CSV from DataLink
``XP_CONTINUOUS`` or the bulk files). ``gaiaxpy.calibrate`` turns them into fluxes on the
same 336-1020 nm, 2 nm grid as the default XP library (``io.xp_library.XP_WAVELENGTH``), so
models trained on either transfer. Each spectrum is then divided by its median flux, as in
the library. Sources without a BP (or RP) spectrum get NaN over the pixels that band alone
covers, which the sample's masked-pixel cut later counts; rows with neither band, and
repeated source_ids, are left out and counted here.
"""

import logging

import numpy as np
import pandas as pd

from . import path_list
from .xp_library import XP_WAVELENGTH

__all__ = ["XPFormatError", "XP_REQUIRED_COLUMNS", "read_xp_continuous"]

log = logging.getLogger(__name__)

XP_REQUIRED_COLUMNS = ("source_id", "bp_coefficients", "bp_coefficient_errors",
                       "bp_coefficient_correlations", "bp_n_parameters", "bp_standard_deviation",
                       "rp_coefficients", "rp_coefficient_errors", "rp_coefficient_correlations",
                       "rp_n_parameters", "rp_standard_deviation")


class XPFormatError(ValueError):
    """An XP continuous file that cannot be used (unreadable, missing columns, no spectra)."""


def read_xp_continuous(paths):
    """Sample the XP spectra of one or more archive CSV files on the library's pixel grid.

    Parameters
    ----------
    paths : path or list of paths
        CSV files in the archive's ``xp_continuous_mean_spectrum`` format (``.csv`` or
        ``.csv.gz``).

    Returns
    -------
    dict
        ``source_id`` (int64), ``flux`` and ``flux_error`` (float32, (n, 343), divided by
        the median flux), ``wavelength`` (nm), ``missing_band`` (str: ``""``, ``"bp"``, ``"rp"``).

    Raises
    ------
    XPFormatError
        Unreadable file, missing columns (named), or no row with coefficients.
    """
    from gaiaxpy import calibrate  # heavy import, needed only here

    table = _read_tables(path_list(paths))
    sampled, sampling = calibrate(table, sampling=XP_WAVELENGTH, save_file=False)
    if not np.allclose(sampling, XP_WAVELENGTH):
        raise XPFormatError(f"gaiaxpy sampled on another grid ({sampling[0]}-{sampling[-1]} nm)")
    sampled = sampled.set_index("source_id").loc[table["source_id"]]
    flux = np.vstack(sampled["flux"].to_numpy()).astype(float)
    flux_error = np.vstack(sampled["flux_error"].to_numpy()).astype(float)
    median = np.nanmedian(flux, axis=1, keepdims=True)
    missing_band = np.where(table["bp_n_parameters"].isna(), "bp", np.where(table["rp_n_parameters"].isna(), "rp", ""))
    return {"source_id": table["source_id"].to_numpy(np.int64), "flux": (flux / median).astype(np.float32),
            "flux_error": (flux_error / median).astype(np.float32), "wavelength": XP_WAVELENGTH.copy(),
            "missing_band": missing_band}


def _read_tables(paths):
    """The rows of every file with at least one band, one row per source_id."""
    frames = []
    for path in paths:
        try:
            frame = pd.read_csv(path)
        except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
            raise XPFormatError(f"{path}: cannot read the XP continuous CSV ({error})") from error
        missing = [c for c in XP_REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise XPFormatError(f"{path}: missing required column(s) {', '.join(missing)}")
        empty = frame["bp_coefficients"].isna() & frame["rp_coefficients"].isna()
        if empty.any():
            log.warning("%s: %d sources have neither BP nor RP coefficients and are left out (e.g. %s)",
                        path, empty.sum(), frame.loc[empty, "source_id"].iloc[0])
        for band in ("bp", "rp"):
            n_missing = (frame[f"{band}_coefficients"].isna() & ~empty).sum()
            if n_missing:
                log.info("%s: %d sources have no %s spectrum (their %s pixels are NaN)", path, n_missing,
                         band.upper(), band.upper())
        frames.append(frame[~empty])
    table = pd.concat(frames, ignore_index=True)
    repeated = table["source_id"].duplicated()
    if repeated.any():
        log.warning("%d rows repeat a source_id already read (e.g. %s); the first is kept", repeated.sum(),
                    table.loc[repeated, "source_id"].iloc[0])
        table = table[~repeated].reset_index(drop=True)
    if table.empty:
        raise XPFormatError(f"no XP spectrum with coefficients in {', '.join(map(str, paths))}")
    return table
