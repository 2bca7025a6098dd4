"""Adapter of the ``lamost`` source: allStar labels joined to LAMOST low-resolution spectra.

LAMOST spectra join the allStar on the catalogue's ``gaia_source_id`` where it has one, and
otherwise on the sky: the APOGEE stars' Gaia positions moved from 2016.0 to the LAMOST epoch, a
one-to-one match within a radius (:func:`match_lamost`, the task's cross-match). A star with
several LAMOST spectra keeps the one with the highest g-band S/N. The spectra are moved to the
rest frame (by the redshift in their own header, else by the catalogue's velocity; a spectrum
with neither is left out), resampled onto a common log-linear grid and continuum-normalised
(:mod:`labeltransfer.data.resampling`). Parallaxes are the allStar's Gaia EDR3 ones.
"""

import logging

import numpy as np
import pandas as pd

from ..data.crossmatch import crossmatch, join_on_source_id, propagate_positions
from ..io.lamost import LamostFormatError, read_lamost_spectrum
from ..data.resampling import SPEED_OF_LIGHT_KMS, continuum_normalise, log_linear_grid, resample, to_rest_frame
from .apogee import ALLSTAR_RELEASE, EmptyMatchError, allstar_stars, read_apogee_labels
from .files import file_provenance, manifest_provenance, read_manifest

__all__ = ["stars_from_lamost", "match_lamost", "lamost_on_grid", "join_lamost"]

log = logging.getLogger(__name__)


def stars_from_lamost(*, labels, spectra, matches, label_names, settings):
    """The matched allStar stars (``labels``, CSV) with their LAMOST spectra (``spectra``, a manifest).

    ``matches`` is the task's cross-match (from :func:`match_lamost`); ``settings`` the config's
    ``archives: lamost`` section (``grid``, ``continuum_width``). An unreadable spectrum file is
    left out with a warning naming it.
    """
    provenance = {"source": "lamost", "release": f"{ALLSTAR_RELEASE}; LAMOST low-resolution spectra "
                                                 "(the catalogue and spectrum addresses of config archives: lamost)",
                  "files": [file_provenance(labels), file_provenance(matches), manifest_provenance(spectra)]}
    match_table = pd.read_csv(matches, dtype={"apogee_id": str})
    read = []
    for path in read_manifest(spectra):
        try:
            read.append(read_lamost_spectrum(path))
        except LamostFormatError as error:
            log.warning("left out: %s", error)
    log.info("LAMOST: %d spectra read", len(read))
    grid = log_linear_grid(settings["grid"]["start"], settings["grid"]["stop"], settings["grid"]["step_log10"])
    on_grid = lamost_on_grid(read, grid, settings["continuum_width"],
                             catalogue_rv=dict(zip(match_table["obsid"], match_table["rv"])))
    return join_lamost(read_apogee_labels(labels), match_table, on_grid, label_names, provenance)


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


def join_lamost(allstar, matches, spectra, label_names, provenance):
    """The record of the matched allStar stars with their LAMOST spectra (from ``lamost_on_grid``)."""
    star_rows = pd.Index(allstar["apogee_id"]).get_indexer(matches["apogee_id"])
    spectrum_rows = pd.Index(spectra["obsid"]).get_indexer(matches["obsid"])
    usable = (star_rows >= 0) & (spectrum_rows >= 0)
    if (~usable).any():
        log.warning("LAMOST: %d matched spectra are not among those read (e.g. obsid %s) and are left out",
                    (~usable).sum(), matches["obsid"].to_numpy()[~usable][0])
    if not usable.any():
        raise EmptyMatchError("none of the matched LAMOST spectra was read")
    rows, spectrum_rows = star_rows[usable], spectrum_rows[usable]
    return allstar_stars(allstar, rows, flux=spectra["flux"][spectrum_rows], flux_error=spectra["flux_error"][spectrum_rows],
                         wavelength=spectra["wavelength"], label_names=label_names, provenance=provenance)
