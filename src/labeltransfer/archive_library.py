"""APOGEE labels joined to spectra from the public archives, as one labelled library.

The result has the layout of :func:`labeltransfer.io.xp_library.read_xp_library` (one row per
APOGEE star: ``apogee_id``, labels and ``_err`` columns, 2MASS ``j h k``, Gaia EDR3
magnitudes, ``flux``, ``flux_error``, ``wavelength``), so that the quality cuts, features and
split of :func:`labeltransfer.sample.build_sample` apply unchanged to every task, with the
allStar's Gaia EDR3 parallaxes as the ``matches`` table.

- Gaia XP and RVS spectra join the allStar on Gaia source_id (exact).
- LAMOST spectra join on the catalogue's ``gaia_source_id`` where it has one, and otherwise
  on the sky: the APOGEE stars' Gaia positions moved from 2016.0 to the LAMOST epoch, a
  one-to-one match within a radius. A star with several LAMOST spectra keeps the one with
  the highest g-band S/N. LAMOST spectra are moved to the rest frame (by the redshift in their
  own header, else by the catalogue's velocity; a spectrum with neither is left out), resampled
  onto a common log-linear grid and continuum-normalised first (:mod:`labeltransfer.resampling`).
"""

import logging

import numpy as np
import pandas as pd

from .crossmatch import crossmatch, join_on_source_id, propagate_positions
from .resampling import SPEED_OF_LIGHT_KMS, continuum_normalise, resample, to_rest_frame

__all__ = ["EmptyMatchError", "PHOTOMETRY", "library_from_gaia_spectra", "match_lamost",
           "lamost_on_grid", "library_from_lamost", "parallax_table"]

log = logging.getLogger(__name__)

#: allStar columns copied into the library (2MASS and Gaia EDR3 photometry).
PHOTOMETRY = ("j", "h", "k", "gaiaedr3_phot_g_mean_mag", "gaiaedr3_phot_bp_mean_mag", "gaiaedr3_phot_rp_mean_mag")


class EmptyMatchError(ValueError):
    """Two catalogues that share no star: nothing to train or test on."""


def _library(allstar, rows, flux, flux_error, wavelength, label_names):
    """The library dict of the allStar rows ``rows`` with the given spectra."""
    library = {"apogee_id": allstar["apogee_id"].to_numpy()[rows].astype(str),
               "gaiaedr3_source_id": allstar["source_id"].to_numpy()[rows],
               "flux": np.asarray(flux, dtype=np.float32), "flux_error": np.asarray(flux_error, dtype=np.float32),
               "wavelength": np.asarray(wavelength, dtype=float)}
    for column in (*PHOTOMETRY, *label_names, *(f"{name}_err" for name in label_names)):
        library[column] = allstar[column].to_numpy(dtype=float)[rows]
    return library


def parallax_table(allstar):
    """The allStar's Gaia EDR3 parallaxes in the form ``build_sample`` takes as ``matches``."""
    return pd.DataFrame({"apogee_id": allstar["apogee_id"].astype(str),
                         "parallax": allstar["parallax"].astype(float),
                         "parallax_error": allstar["parallax_error"].astype(float)})


def library_from_gaia_spectra(allstar, spectra, label_names, what="Gaia spectra"):
    """Join Gaia XP or RVS spectra (keyed by source_id) to the allStar stars.

    Parameters
    ----------
    allstar : pandas.DataFrame
        From :func:`labeltransfer.io.allstar.read_allstar`.
    spectra : dict
        ``source_id``, ``flux``, ``flux_error``, ``wavelength`` (from ``read_xp_continuous``
        or ``read_rvs``).
    label_names : sequence of str
    what : str
        Name of the spectra, for messages.

    Raises
    ------
    EmptyMatchError
        If no allStar star has a spectrum.
    """
    index = join_on_source_id(allstar["source_id"].to_numpy(), spectra["source_id"], what=what)
    rows = np.flatnonzero(index >= 0)
    log.info("%s: %d of %d allStar stars have a spectrum (%d spectra)", what, rows.size, len(allstar),
             len(spectra["source_id"]))
    if rows.size == 0:
        raise EmptyMatchError(f"no allStar star has one of the {len(spectra['source_id'])} {what} "
                              "(joined on Gaia source_id)")
    return _library(allstar, rows, spectra["flux"][index[rows]], spectra["flux_error"][index[rows]],
                    spectra["wavelength"], label_names)


def match_lamost(allstar, catalogue, gaia_positions, radius_arcsec, epoch):
    """The LAMOST spectrum (obsid) of each allStar star that has one, best S/N first.

    Parameters
    ----------
    allstar : pandas.DataFrame
    catalogue : pandas.DataFrame
        From :func:`labeltransfer.io.lamost_catalogue.read_lamost_catalogue`.
    gaia_positions : pandas.DataFrame
        ``source_id``, ``ra``, ``dec``, ``pmra``, ``pmdec`` at 2016.0 (the Gaia archive); a
        star without one is placed at its allStar position.
    radius_arcsec : float
    epoch : float
        Julian epoch of the LAMOST positions.

    Returns
    -------
    pandas.DataFrame
        ``apogee_id``, ``obsid``, ``snr_g``, ``rv`` (the catalogue's, km/s), ``how``
        (``source_id`` or ``position``), ``separation_arcsec`` (NaN for source_id matches); one
        row per matched star.
    """
    by_id = join_on_source_id(catalogue["source_id"].to_numpy(), allstar["source_id"].to_numpy(), what="allStar")
    pairs = [pd.DataFrame({"star": by_id[by_id >= 0], "spectrum": np.flatnonzero(by_id >= 0),
                           "how": "source_id", "separation_arcsec": np.nan})]
    gaia = gaia_positions.set_index("source_id").reindex(allstar["source_id"].to_numpy())
    has_gaia = gaia["ra"].notna().to_numpy()
    ra, dec = allstar["ra"].to_numpy(dtype=float, copy=True), allstar["dec"].to_numpy(dtype=float, copy=True)
    if has_gaia.any():
        ra[has_gaia], dec[has_gaia] = propagate_positions(*(gaia[c].to_numpy(dtype=float)[has_gaia]
                                                            for c in ("ra", "dec", "pmra", "pmdec")), epoch)
    without_id = np.flatnonzero(by_id < 0)
    index, separation = crossmatch(catalogue["ra"].to_numpy()[without_id], catalogue["dec"].to_numpy()[without_id],
                                   ra, dec, radius_arcsec, one_to_one=False)
    matched = index >= 0
    pairs.append(pd.DataFrame({"star": index[matched], "spectrum": without_id[matched], "how": "position",
                               "separation_arcsec": separation[matched]}))
    pairs = pd.concat(pairs, ignore_index=True)
    log.info("LAMOST: %d spectra matched on source_id, %d on position (%d allStar stars with a Gaia position)",
             (pairs["how"] == "source_id").sum(), (pairs["how"] == "position").sum(), has_gaia.sum())
    if pairs.empty:
        raise EmptyMatchError(f"no LAMOST spectrum of the {len(catalogue)} in the catalogue matches one of the "
                              f"{len(allstar)} allStar stars (source_id, or within {radius_arcsec} arcsec)")
    pairs["snr_g"] = catalogue["snr_g"].to_numpy()[pairs["spectrum"]]
    best = pairs.sort_values("snr_g", ascending=False).drop_duplicates("star")
    log.info("LAMOST: %d allStar stars matched; %d extra spectra of the same stars left out", len(best),
             len(pairs) - len(best))
    return pd.DataFrame({"apogee_id": allstar["apogee_id"].to_numpy()[best["star"]],
                         "obsid": catalogue["obsid"].to_numpy()[best["spectrum"]], "snr_g": best["snr_g"].to_numpy(),
                         "rv": catalogue["rv"].to_numpy()[best["spectrum"]], "how": best["how"].to_numpy(),
                         "separation_arcsec": best["separation_arcsec"].to_numpy()}
                        ).sort_values("apogee_id").reset_index(drop=True)


def lamost_on_grid(spectra, grid, continuum_width, catalogue_rv=None):
    """LAMOST spectra in the rest frame, on ``grid``, continuum-normalised.

    Parameters
    ----------
    spectra : list of LamostSpectrum
    grid : ndarray
        Common wavelength grid (vacuum Angstrom).
    continuum_width : float
        Gaussian sigma of the continuum smoothing, Angstrom.
    catalogue_rv : dict, optional
        obsid -> the catalogue's radial velocity (km/s), used where a spectrum's header has
        no redshift (absent or -9999). A spectrum with neither is left out (counted).

    Returns
    -------
    dict ``obsid``, ``flux``, ``flux_error`` (infinite where masked), ``wavelength``.
    """
    catalogue_rv = catalogue_rv or {}
    velocity = np.array([s.redshift * SPEED_OF_LIGHT_KMS if np.isfinite(s.redshift) else catalogue_rv.get(s.obsid, np.nan)
                         for s in spectra], dtype=float)
    n_from_catalogue = sum(not np.isfinite(s.redshift) for s in spectra) - np.isnan(velocity).sum()
    if n_from_catalogue:
        log.info("LAMOST: %d spectra without a redshift in their header moved by the catalogue's velocity",
                 n_from_catalogue)
    if np.isnan(velocity).any():
        log.warning("LAMOST: %d spectra left out: no redshift in their header and no velocity in the catalogue "
                    "(-9999 or absent; e.g. obsid %d)", np.isnan(velocity).sum(),
                    spectra[int(np.flatnonzero(np.isnan(velocity))[0])].obsid)
    spectra = [s for s, v in zip(spectra, velocity) if np.isfinite(v)]
    velocity = velocity[np.isfinite(velocity)]
    flux, ivar = np.zeros((len(spectra), grid.size)), np.zeros((len(spectra), grid.size))
    for i, spectrum in enumerate(spectra):
        rest = to_rest_frame(spectrum.wavelength, velocity[i])
        flux[i], ivar[i] = resample(rest, spectrum.flux, spectrum.ivar, grid)
    flux, ivar = continuum_normalise(grid, flux, ivar, continuum_width)
    error = np.divide(1.0, np.sqrt(ivar), out=np.full_like(ivar, np.inf), where=ivar > 0)
    return {"obsid": np.array([s.obsid for s in spectra], dtype=np.int64), "flux": flux, "flux_error": error,
            "wavelength": grid}


def library_from_lamost(allstar, matches, spectra, label_names):
    """The library of the matched allStar stars with their LAMOST spectra (from ``lamost_on_grid``)."""
    star_rows = pd.Index(allstar["apogee_id"]).get_indexer(matches["apogee_id"])
    spectrum_rows = pd.Index(spectra["obsid"]).get_indexer(matches["obsid"])
    usable = (star_rows >= 0) & (spectrum_rows >= 0)
    if (~usable).any():
        log.warning("LAMOST: %d matched spectra are not among those read (e.g. obsid %s) and are left out",
                    (~usable).sum(), matches["obsid"].to_numpy()[~usable][0])
    if not usable.any():
        raise EmptyMatchError("none of the matched LAMOST spectra was read")
    return _library(allstar, star_rows[usable], spectra["flux"][spectrum_rows[usable]],
                    spectra["flux_error"][spectrum_rows[usable]], spectra["wavelength"], label_names)
