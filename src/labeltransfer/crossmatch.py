"""Positions from APOGEE IDs, and a one-to-one positional cross-match with astropy."""

import logging

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord, match_coordinates_sky

__all__ = ["decode_apogee_id", "crossmatch", "match_statistics"]

log = logging.getLogger(__name__)

#: 2MASS-style designation, ``2M``/``AP`` + HHMMSSss + sign + DDMMSSs.
_ID_PATTERN = r"^(?:2M|AP)(\d{2})(\d{2})(\d{4})([+-])(\d{2})(\d{2})(\d{3})$"


def decode_apogee_id(apogee_id):
    """Sky positions encoded in 2MASS-style APOGEE IDs (``2M14300843-6315371``, ``AP...``).

    Parameters
    ----------
    apogee_id : array of str, shape (n,)

    Returns
    -------
    ra, dec : ndarray, shape (n,)
        ICRS degrees (J2000 2MASS positions, truncated as in the designation); NaN where the
        ID does not decode.
    decoded : ndarray of bool, shape (n,)
    """
    import pandas as pd

    parts = pd.Series(np.asarray(apogee_id, dtype=str)).str.strip().str.extract(_ID_PATTERN)
    decoded = parts.notna().all(axis=1).to_numpy()
    num = parts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ra = 15.0 * (num[:, 0] + num[:, 1] / 60.0 + num[:, 2] / 100.0 / 3600.0)
    sign = np.where(parts[3].to_numpy() == "-", -1.0, 1.0)
    dec = sign * (num[:, 4] + num[:, 5] / 60.0 + num[:, 6] / 10.0 / 3600.0)
    valid = decoded & (ra < 360.0) & (np.abs(dec) <= 90.0) & (num[:, 1] < 60) & (num[:, 5] < 60)
    ra[~valid], dec[~valid] = np.nan, np.nan
    return ra, dec, valid


def crossmatch(ra, dec, cat_ra, cat_dec, radius_arcsec=1.0):
    """Nearest-neighbour, one-to-one match of positions to a catalogue.

    Each source takes its nearest catalogue entry within ``radius_arcsec``; when several
    sources take the same entry, only the closest keeps it.

    Parameters
    ----------
    ra, dec : ndarray, shape (n,)
        Source positions, deg; NaN positions are not matched.
    cat_ra, cat_dec : ndarray, shape (m,)
        Catalogue positions, deg.
    radius_arcsec : float

    Returns
    -------
    index : ndarray of int, shape (n,)
        Catalogue row of each source's match, -1 where unmatched.
    separation : ndarray, shape (n,)
        Separation to the nearest catalogue entry in arcsec (NaN for invalid positions),
        whether or not it lies within the radius.
    """
    n = len(ra)
    index = np.full(n, -1)
    separation = np.full(n, np.nan)
    valid = np.isfinite(ra) & np.isfinite(dec)
    if not valid.any() or len(cat_ra) == 0:
        return index, separation
    sources = SkyCoord(ra[valid] * u.deg, dec[valid] * u.deg)
    catalogue = SkyCoord(np.asarray(cat_ra) * u.deg, np.asarray(cat_dec) * u.deg)
    nearest, sep, _ = match_coordinates_sky(sources, catalogue)
    sep = sep.to_value(u.arcsec)
    separation[valid] = sep
    rows = np.flatnonzero(valid)
    within = sep <= radius_arcsec
    order = np.argsort(sep[within])
    candidates, cand_rows = nearest[within][order], rows[within][order]
    _, first = np.unique(candidates, return_index=True)
    index[cand_rows[first]] = candidates[first]
    n_lost = int(within.sum() - len(first))
    if n_lost:
        log.info("cross-match: %d sources shared a catalogue entry with a closer source", n_lost)
    return index, separation


def match_statistics(index, separation, decoded):
    """Counts, matched fraction and separation percentiles (arcsec) of a cross-match."""
    matched = index >= 0
    sep = separation[matched]
    percentiles = (16, 50, 84, 95, 99)
    return {
        "n_sources": int(len(index)),
        "n_decoded": int(decoded.sum()),
        "n_undecoded": int((~decoded).sum()),
        "n_matched": int(matched.sum()),
        "matched_fraction": float(matched.mean()) if len(index) else 0.0,
        "separation_percentiles_arcsec": {
            str(p): (float(np.percentile(sep, p)) if sep.size else None) for p in percentiles},
    }
