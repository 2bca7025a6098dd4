"""Reader of a LAMOST low-resolution catalogue (e.g. DR10 v2.0 ``LRS stellar parameters``).

The catalogues are CSV (often gzipped) with one row per spectrum: ``obsid``, ``ra``,
``dec``, the S/N per band ``snru`` ... ``snrz``, the redshift ``z`` or radial velocity
``rv`` (km/s) of the LAMOST pipeline, and, in recent releases, ``gaia_source_id``. Rows
whose obsid repeats are dropped (counted); stars observed more than once keep all their
spectra here (the cross-match keeps the best one per star).
"""

import logging

import numpy as np
import pandas as pd

from ..spectral import SPEED_OF_LIGHT_KMS

__all__ = ["LamostCatalogueError", "LAMOST_REQUIRED_COLUMNS", "read_lamost_catalogue"]

log = logging.getLogger(__name__)

LAMOST_REQUIRED_COLUMNS = ("obsid", "ra", "dec", "snrg", "snrr")


class LamostCatalogueError(ValueError):
    """A LAMOST catalogue that cannot be used."""


def read_lamost_catalogue(path, min_snr=0.0):
    """Spectra listed in a LAMOST catalogue, with S/N, radial velocity and Gaia source_id.

    Parameters
    ----------
    path : str or Path
        CSV or CSV.gz; ``|``-separated files (as some LAMOST releases are) are read too.
    min_snr : float
        Lowest ``snrg`` kept.

    Returns
    -------
    pandas.DataFrame
        ``obsid`` (int64), ``ra``, ``dec`` (deg), ``snr_g``, ``snr_r``, ``rv`` (km/s, NaN if
        the catalogue has neither ``rv`` nor ``z``), ``source_id`` (int64, -1 where absent).
    """
    try:
        table = pd.read_csv(path, sep=None, engine="python")
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
        raise LamostCatalogueError(f"{path}: cannot read the LAMOST catalogue ({error})") from error
    table.columns = [c.strip().lower() for c in table.columns]
    missing = [c for c in LAMOST_REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise LamostCatalogueError(f"{path}: missing required column(s) {', '.join(missing)} "
                                   f"(has {', '.join(table.columns[:12])}...)")
    if "rv" in table.columns:
        rv = pd.to_numeric(table["rv"], errors="coerce")
    elif "z" in table.columns:
        rv = pd.to_numeric(table["z"], errors="coerce") * SPEED_OF_LIGHT_KMS
    else:
        rv = pd.Series(np.nan, index=table.index)
        log.warning("%s: no rv or z column; spectra stay in the observed frame", path)
    source_id = (pd.to_numeric(table["gaia_source_id"], errors="coerce").fillna(-1)
                 if "gaia_source_id" in table.columns else pd.Series(-1, index=table.index))
    result = pd.DataFrame({"obsid": pd.to_numeric(table["obsid"], errors="coerce"),
                           "ra": pd.to_numeric(table["ra"], errors="coerce"),
                           "dec": pd.to_numeric(table["dec"], errors="coerce"),
                           "snr_g": pd.to_numeric(table["snrg"], errors="coerce"),
                           "snr_r": pd.to_numeric(table["snrr"], errors="coerce"),
                           "rv": rv.to_numpy(dtype=float), "source_id": source_id.to_numpy(dtype=np.int64)})
    unusable = result[["obsid", "ra", "dec"]].isna().any(axis=1)
    if unusable.any():
        log.warning("%s: %d rows without a numeric obsid, ra or dec are left out", path, unusable.sum())
    repeated = result["obsid"].duplicated() & ~unusable
    if repeated.any():
        log.warning("%s: %d rows repeat an obsid (e.g. %d); the first is kept", path, repeated.sum(),
                    result.loc[repeated, "obsid"].iloc[0])
    low = ~(result["snr_g"] >= min_snr) & ~unusable & ~repeated
    log.info("%s: %d spectra below snrg %g left out", path, low.sum(), min_snr)
    result = result[~(unusable | repeated | low)].astype({"obsid": np.int64}).reset_index(drop=True)
    if result.empty:
        raise LamostCatalogueError(f"{path}: no usable row (after the cuts)")
    log.info("%s: %d spectra", path, len(result))
    return result
