"""Reader of the APOGEE DR17 allStar catalogue (``allStar-dr17-synspec_rev1.fits``, HDU 1).

Only the columns a label-transfer study needs are read (the file is 4 GB; astropy maps it),
and the catalogue's own quality information is applied: stars whose ``ASPCAPFLAGS`` or
``STARFLAGS`` (the comma-separated names of the set bits, which the catalogue carries beside
the integers) contain a configured flag are removed, as are ``EXTRATARG`` duplicates (bit 4,
the lower-S/N entries of stars observed more than once) and spectra below a minimum S/N. A
label whose ``<LABEL>_FLAG`` column is non-zero, or whose value is missing, is masked (NaN)
for that star only. Every removal and mask is counted in the log.
"""

import logging

import numpy as np
import pandas as pd
from astropy.io import fits

from . import FileFormatError, require
from .fits_file import open_fits
from .tables import best_row_per_id

__all__ = ["AllStarFormatError", "ALLSTAR_COLUMNS", "EXTRATARG_DUPLICATE", "read_allstar"]

log = logging.getLogger(__name__)

#: Columns read besides the labels, with the names they get in the returned table.
ALLSTAR_COLUMNS = {
    "APOGEE_ID": "apogee_id", "TELESCOPE": "telescope", "FIELD": "field", "RA": "ra",
    "DEC": "dec", "SNR": "snr", "VHELIO_AVG": "vhelio", "GAIAEDR3_SOURCE_ID": "source_id",
    "GAIAEDR3_PARALLAX": "parallax", "GAIAEDR3_PARALLAX_ERROR": "parallax_error",
    "GAIAEDR3_PMRA": "pmra", "GAIAEDR3_PMDEC": "pmdec", "J": "j", "H": "h", "K": "k", "AK_TARG": "ak_targ",
    "GAIAEDR3_PHOT_G_MEAN_MAG": "gaiaedr3_phot_g_mean_mag", "GAIAEDR3_PHOT_BP_MEAN_MAG": "gaiaedr3_phot_bp_mean_mag",
    "GAIAEDR3_PHOT_RP_MEAN_MAG": "gaiaedr3_phot_rp_mean_mag", "ASPCAPFLAGS": "aspcapflags",
    "STARFLAGS": "starflags", "EXTRATARG": "extratarg",
}
#: Bit of EXTRATARG set on the lower-S/N duplicates of a star (DR17 bitmask APOGEE_EXTRATARG).
EXTRATARG_DUPLICATE = 4
#: Values at or below this are the catalogue's "no value" markers of earlier releases.
MISSING_VALUE = -9990.0


class AllStarFormatError(FileFormatError):
    """The allStar file is unreadable or lacks a column the study needs."""


def read_allstar(path, labels, bad_aspcapflags=("STAR_BAD",), bad_starflags=(), min_snr=0.0):
    """Labels, errors, positions and Gaia astrometry of the stars that pass the quality cuts.

    Parameters
    ----------
    path : str or Path
    labels : sequence of str
        Lower-case label names, e.g. ``["teff", "logg", "fe_h", "alpha_m", "mg_fe"]``: the
        columns ``TEFF``, ``TEFF_ERR`` and, where it exists, ``TEFF_FLAG``.
    bad_aspcapflags, bad_starflags : sequence of str
        Flag names that remove a star (e.g. ``STAR_BAD``; ``VERY_BRIGHT_NEIGHBOR``).
    min_snr : float
        Lowest APOGEE ``SNR`` kept.

    Returns
    -------
    pandas.DataFrame
        One row per kept star; the columns of ``ALLSTAR_COLUMNS`` (renamed) less the flags,
        and per label ``<label>`` and ``<label>_err`` (NaN where masked).

    Raises
    ------
    AllStarFormatError
        A truncated or non-FITS file, or missing columns (all of them named).
    """
    table = _read_columns(path, labels)
    n = len(table)
    keep = np.ones(n, dtype=bool)
    for column, names in (("aspcapflags", bad_aspcapflags), ("starflags", bad_starflags)):
        set_flags = table[column].str.split(",").apply(set)
        for name in names:
            flagged = set_flags.apply(lambda flags, name=name: name in flags).to_numpy(dtype=bool)
            _log_removed(f"{column.upper()} has {name}", keep, flagged)
            keep &= ~flagged
    duplicate = (table["extratarg"].to_numpy() & (1 << EXTRATARG_DUPLICATE)) > 0
    _log_removed("EXTRATARG duplicate (a higher-S/N entry of the star is kept)", keep, duplicate)
    keep &= ~duplicate
    low_snr = ~(table["snr"].to_numpy() >= min_snr)
    _log_removed(f"SNR below {min_snr:g}", keep, low_snr)
    keep &= ~low_snr
    table = table[keep].drop(columns=["aspcapflags", "starflags", "extratarg"]).reset_index(drop=True)
    repeated = table["apogee_id"].duplicated(keep=False)
    if repeated.any():
        log.warning("%s: %d rows share an APOGEE_ID after the cuts (%s...); the highest-SNR row "
                    "of each is kept", path, repeated.sum(), table.loc[repeated, "apogee_id"].iloc[0])
        table = table.iloc[best_row_per_id(table["apogee_id"], table["snr"])]
    log.info("%s: %d of %d stars kept", path, len(table), n)
    return table.reset_index(drop=True)


def _read_columns(path, labels):
    """The needed columns as a DataFrame (labels masked where flagged or missing)."""
    label_columns = [f"{name.upper()}{suffix}" for name in labels for suffix in ("", "_ERR")]
    with open_fits(path, AllStarFormatError, memmap=True) as hdul:
        if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
            raise AllStarFormatError(f"{path}: no binary table in HDU 1 (truncated, or not an allStar file)")
        data = hdul[1].data
        names = set(data.columns.names)
        require(names, [*ALLSTAR_COLUMNS, *label_columns], path, AllStarFormatError)
        table = pd.DataFrame({new: _native(data[old]) for old, new in ALLSTAR_COLUMNS.items()})
        for name in labels:
            value = _native(data[name.upper()]).astype(float)
            error = _native(data[f"{name.upper()}_ERR"]).astype(float)
            bad = ~np.isfinite(value) | (value <= MISSING_VALUE) | ~np.isfinite(error) | (error <= MISSING_VALUE)
            flag_column = f"{name.upper()}_FLAG"
            if flag_column in names:
                flagged = _native(data[flag_column]) != 0
                log.info("%s: %s masked for %d stars (%s non-zero)", path, name, (flagged & ~bad).sum(), flag_column)
                bad |= flagged
            value[bad], error[bad] = np.nan, np.nan
            table[name], table[f"{name}_err"] = value, error
    for column in ("apogee_id", "telescope", "field", "aspcapflags", "starflags"):
        table[column] = table[column].str.strip()
    table["ak_targ"] = table["ak_targ"].astype(float).where(table["ak_targ"] > MISSING_VALUE)
    return table


def _native(column):
    """A FITS column as a native-endian numpy array (strings decoded)."""
    array = np.asarray(column)
    if array.dtype.kind == "S":
        return array.astype(str)
    return array.astype(array.dtype.newbyteorder("="))


def _log_removed(reason, keep, removed):
    log.info("removed %d stars: %s", (keep & removed).sum(), reason)
