"""Reader of a LAMOST low-resolution catalogue (e.g. DR10 v2.0 ``LRS stellar parameters``).

The catalogues are CSV (often gzipped; some releases separate the columns with ``|``) with
one row per spectrum: ``obsid``, ``ra``, ``dec``, the S/N per band ``snru`` ... ``snrz``, the
redshift ``z`` or radial velocity ``rv`` (km/s) of the LAMOST pipeline, and, in recent
releases, ``gaia_source_id``. LAMOST writes -9999 for a missing value: such an S/N never
passes a cut and such a velocity is never applied (both read as NaN). Gaia source_ids are
19-digit integers, read as text and converted exactly (a float holds only 15-16 digits);
blank, -9999 or otherwise non-integer ids count as absent. Only the needed columns are read.
Rows whose obsid repeats are dropped (counted); stars observed more than once keep all their
spectra here (the cross-match keeps the best one per star).
"""

import gzip
import logging

import numpy as np
import pandas as pd

from ..data.resampling import SPEED_OF_LIGHT_KMS
from . import FileFormatError
from .lamost import MISSING_VALUE

__all__ = ["LamostCatalogueError", "LAMOST_REQUIRED_COLUMNS", "read_lamost_catalogue"]

log = logging.getLogger(__name__)

LAMOST_REQUIRED_COLUMNS = ("obsid", "ra", "dec", "snrg", "snrr")
#: Columns read besides the required ones, where the catalogue has them.
_OPTIONAL_COLUMNS = ("rv", "z", "gaia_source_id")


class LamostCatalogueError(FileFormatError):
    """A LAMOST catalogue that cannot be used."""


def read_lamost_catalogue(path, min_snr=0.0):
    """Spectra listed in a LAMOST catalogue, with S/N, radial velocity and Gaia source_id.

    Parameters
    ----------
    path : str or Path
        CSV or CSV.gz, separated by ``,``, ``|`` or tabs.
    min_snr : float
        Lowest ``snrg`` kept.

    Returns
    -------
    pandas.DataFrame
        ``obsid`` (int64), ``ra``, ``dec`` (deg), ``snr_g``, ``snr_r``, ``rv`` (km/s, from
        ``rv``, else ``z`` times c; NaN where missing), ``source_id`` (int64, -1 where absent).
    """
    table = _read_columns(path)
    rv = _values(table["rv"]) if "rv" in table.columns else pd.Series(np.nan, index=table.index)
    if "z" in table.columns:
        rv = rv.fillna(_values(table["z"]) * SPEED_OF_LIGHT_KMS)
    if "rv" not in table.columns and "z" not in table.columns:
        log.warning("%s: no rv or z column; the spectra's own redshifts alone can be used", path)
    elif rv.isna().any():
        log.info("%s: %d spectra without a velocity (rv and z missing or -9999)", path, rv.isna().sum())
    result = pd.DataFrame({"obsid": pd.to_numeric(table["obsid"], errors="coerce"),
                           "ra": _values(table["ra"]), "dec": _values(table["dec"]),
                           "snr_g": _values(table["snrg"]), "snr_r": _values(table["snrr"]),
                           "rv": rv.to_numpy(dtype=float), "source_id": _source_ids(table, path)})
    unusable = result[["obsid", "ra", "dec"]].isna().any(axis=1)
    if unusable.any():
        log.warning("%s: %d rows without a numeric obsid, ra or dec are left out", path, unusable.sum())
    repeated = result["obsid"].duplicated() & ~unusable
    if repeated.any():
        log.warning("%s: %d rows repeat an obsid (e.g. %d); the first is kept", path, repeated.sum(),
                    result.loc[repeated, "obsid"].iloc[0])
    no_snr = result["snr_g"].isna() & ~unusable & ~repeated
    if no_snr.any():
        log.warning("%s: %d spectra without a g-band S/N (snrg missing or -9999) are left out", path, no_snr.sum())
    low = (result["snr_g"] < min_snr) & ~unusable & ~repeated
    log.info("%s: %d spectra below snrg %g left out", path, low.sum(), min_snr)
    result = result[~(unusable | repeated | no_snr | low)].astype({"obsid": np.int64}).reset_index(drop=True)
    if result.empty:
        raise LamostCatalogueError(f"{path}: no usable row (after the cuts)")
    log.info("%s: %d spectra, %d of them without a Gaia source_id (matched on the sky)", path, len(result),
             (result["source_id"] < 0).sum())
    return result


def _read_columns(path):
    """The needed columns (names lower-cased), gaia_source_id as text."""
    try:
        separator = _separator(path)
        names = pd.read_csv(path, sep=separator, nrows=0).columns
        wanted = {c: c.strip().lower() for c in names if c.strip().lower() in LAMOST_REQUIRED_COLUMNS + _OPTIONAL_COLUMNS}
        table = pd.read_csv(path, sep=separator, usecols=list(wanted), low_memory=False,
                            dtype={c: str for c, name in wanted.items() if name == "gaia_source_id"})
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
        raise LamostCatalogueError(f"{path}: cannot read the LAMOST catalogue ({error})") from error
    table = table.rename(columns=wanted)
    missing = [c for c in LAMOST_REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise LamostCatalogueError(f"{path}: missing required column(s) {', '.join(missing)} "
                                   f"(has {', '.join(c.strip() for c in names[:12])}...)")
    return table


def _separator(path):
    """The column separator of the header line: ``|``, tab or ``,``."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rt", errors="replace") as handle:
        header = handle.readline()
    return max(("|", "\t", ","), key=header.count)


def _values(column):
    """A numeric column with LAMOST's -9999 (and anything unreadable) as NaN."""
    values = pd.to_numeric(column, errors="coerce")
    return values.where(values > MISSING_VALUE)


def _source_ids(table, path):
    """Gaia source_ids as exact int64, -1 where blank, -9999, zero or not an integer."""
    ids = np.full(len(table), -1, dtype=np.int64)
    if "gaia_source_id" not in table.columns:
        return ids
    text = table["gaia_source_id"].fillna("").astype(str).str.strip()
    in_range = (text.str.len() < 19) | (text <= str(np.iinfo(np.int64).max))  # text of equal length compares as numbers
    valid = (text.str.fullmatch(r"\d{1,19}") & in_range).to_numpy()
    ids[valid] = text[valid].astype(np.int64).to_numpy()
    odd = ~valid & ~text.str.fullmatch(r"|-9999(\.0*)?|-1|0").to_numpy()
    if odd.any():
        log.warning("%s: %d gaia_source_id values are not integers (e.g. %r) and count as absent", path,
                    odd.sum(), text[odd].iloc[0])
    return np.where(ids > 0, ids, -1)
