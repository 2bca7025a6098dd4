"""Cross-matching surveys: exact joins on Gaia source_id, and one-to-one positional matches
with astropy (positions from APOGEE IDs, Gaia positions moved to another epoch)."""

import logging
import warnings

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord, match_coordinates_sky
from astropy.time import Time
from erfa import ErfaWarning

__all__ = ["decode_apogee_id", "crossmatch", "join_on_source_id", "propagate_positions",
           "separation_percentiles", "match_statistics"]

log = logging.getLogger(__name__)

#: Reference epoch of Gaia DR3 (and EDR3) positions, Julian year.
GAIA_DR3_EPOCH = 2016.0

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
    parts = pd.Series(np.asarray(apogee_id, dtype=str)).str.strip().str.extract(_ID_PATTERN)
    decoded = parts.notna().all(axis=1).to_numpy()
    num = parts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ra = 15.0 * (num[:, 0] + num[:, 1] / 60.0 + num[:, 2] / 100.0 / 3600.0)
    sign = np.where(parts[3].to_numpy() == "-", -1.0, 1.0)
    dec = sign * (num[:, 4] + num[:, 5] / 60.0 + num[:, 6] / 10.0 / 3600.0)
    valid = decoded & (ra < 360.0) & (np.abs(dec) <= 90.0) & (num[:, 1] < 60) & (num[:, 5] < 60)
    ra[~valid], dec[~valid] = np.nan, np.nan
    return ra, dec, valid


def crossmatch(ra, dec, cat_ra, cat_dec, radius_arcsec=1.0, one_to_one=True):
    """Nearest-neighbour match of positions to a catalogue, one-to-one by default.

    Each source takes its nearest catalogue entry within ``radius_arcsec``; when several
    sources take the same entry, only the closest keeps it (unless ``one_to_one`` is False,
    as for repeated observations of one star).

    Parameters
    ----------
    ra, dec : ndarray, shape (n,)
        Source positions, deg; NaN positions are not matched.
    cat_ra, cat_dec : ndarray, shape (m,)
        Catalogue positions, deg.
    radius_arcsec : float
    one_to_one : bool

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
    if not one_to_one:
        index[rows[within]] = nearest[within]
        return index, separation
    order = np.argsort(sep[within])
    candidates, cand_rows = nearest[within][order], rows[within][order]
    _, first = np.unique(candidates, return_index=True)
    index[cand_rows[first]] = candidates[first]
    n_lost = int(within.sum() - len(first))
    if n_lost:
        log.info("cross-match: %d sources shared a catalogue entry with a closer source and are "
                 "left unmatched", n_lost)
    if len(cat_ra) > 1:
        _, second, _ = match_coordinates_sky(sources, catalogue, nthneighbor=2)
        n_ambiguous = int((second.to_value(u.arcsec) <= radius_arcsec).sum())
        if n_ambiguous:
            log.info("cross-match: %d sources have a second catalogue entry within %g arcsec "
                     "(ambiguous; the nearest is taken)", n_ambiguous, radius_arcsec)
    return index, separation


def propagate_positions(ra, dec, pmra, pmdec, epoch, from_epoch=GAIA_DR3_EPOCH):
    """Move positions along their proper motions from ``from_epoch`` to ``epoch``.

    Parameters
    ----------
    ra, dec : ndarray
        Degrees at ``from_epoch`` (Gaia DR3: 2016.0).
    pmra, pmdec : ndarray
        mas/yr (``pmra`` includes cos dec, as Gaia gives it); NaN leaves a star in place.
    epoch, from_epoch : float
        Julian years (e.g. 2000.0 for 2MASS-based IDs, about 2014 for LAMOST).

    Returns
    -------
    ra, dec : ndarray, degrees at ``epoch`` (astropy ``apply_space_motion``; no parallax or
    radial velocity: the change they make over decades is far below a match radius).
    """
    moving = np.isfinite(pmra) & np.isfinite(pmdec)
    coords = SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg,
                      pm_ra_cosdec=np.where(moving, pmra, 0.0) * u.mas / u.yr,
                      pm_dec=np.where(moving, pmdec, 0.0) * u.mas / u.yr,
                      obstime=Time(from_epoch, format="jyear"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)  # "distance overridden": none is given on purpose
        moved = coords.apply_space_motion(new_obstime=Time(epoch, format="jyear"))
    return moved.ra.deg, moved.dec.deg


def join_on_source_id(source_ids, catalogue_ids, what="catalogue"):
    """Exact match of Gaia source_ids to a catalogue's: the catalogue row of each, or -1.

    A source_id that appears more than once in the catalogue is ambiguous: it is not
    matched, and the number of such IDs is logged. A source_id of 0 or below (no Gaia
    counterpart) never matches.

    Parameters
    ----------
    source_ids : array of int, shape (n,)
    catalogue_ids : array of int, shape (m,)
    what : str
        Name of the catalogue, for the log.

    Returns
    -------
    ndarray of int, shape (n,)
    """
    catalogue = pd.Series(np.arange(len(catalogue_ids)), index=np.asarray(catalogue_ids, dtype=np.int64))
    repeated = catalogue.index.duplicated(keep=False)
    if repeated.any():
        log.warning("%s: %d source_ids appear more than once and are not matched (e.g. %d)", what,
                    len(np.unique(catalogue.index[repeated])), catalogue.index[repeated][0])
        catalogue = catalogue[~repeated]
    catalogue = catalogue[catalogue.index > 0]
    index = catalogue.reindex(np.asarray(source_ids, dtype=np.int64)).to_numpy()
    return np.where(np.isnan(index), -1, index).astype(int)


def separation_percentiles(separation_arcsec):
    """16th, 50th, 84th, 95th and 99th percentiles of match separations (None when empty)."""
    sep = np.asarray(separation_arcsec, dtype=float)
    return {str(p): (float(np.percentile(sep, p)) if sep.size else None) for p in (16, 50, 84, 95, 99)}


def match_statistics(index, separation, decoded):
    """Counts, matched fraction and separation percentiles (arcsec) of a cross-match."""
    matched = index >= 0
    sep = separation[matched]
    return {
        "n_sources": int(len(index)),
        "n_decoded": int(decoded.sum()),
        "n_undecoded": int((~decoded).sum()),
        "n_matched": int(matched.sum()),
        "matched_fraction": float(matched.mean()) if len(index) else 0.0,
        "separation_percentiles_arcsec": separation_percentiles(sep),
    }
