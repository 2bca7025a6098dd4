"""Stars made fainter: the S/N ladder that shows how each method's precision falls with S/N.

The spectrum. A spectrum of median S/N ``s`` is brought to a target ``t <= s`` by scaling its
flux errors by ``s / t`` and adding Gaussian noise of variance ``(s / t)^2 - 1`` times each
pixel's own variance: the noisier spectrum has the same shape of errors over wavelength, its
median S/N is ``t`` and the noise in it is what its errors say. Noise is never taken away: a star
below the target is left out at that level. Masked pixels stay masked. For Gaia XP spectra the
added noise has XP's pixel-to-pixel correlations (343 samples of at most 110 coefficients): each
star's own coefficient covariance where the task has it (the archive tasks), else the real
template of :mod:`labeltransfer.xp.covariance_template`, in both cases rescaled pixel by pixel to
the variance above (:class:`labeltransfer.xp.noise.XPNoise`), the noise model of the information
bound too. Other spectra get independent pixels.

The colours and the parallax (:func:`fainter_features`). The ladder makes the same star fainter:
at level ``t`` its fluxes are all fainter by ``dm = log10(s / t) / beta`` magnitudes, ``beta``
the slope of the sample's log10(S/N)-G relation (:func:`snr_slope`). Its true colours and parallax
stay; their errors grow as a star ``dm`` fainter would have them, and each band and the parallax
get Gaussian noise of variance ``sigma(m + dm)^2 - sigma(m)^2``, one draw per band, so colours
that share a band share its noise. The sample stores no photometric or parallax errors, so
``sigma(m)`` is the typical error at that magnitude: Gaia's from the Gaia EDR3 summary
(:data:`GAIA_ERRORS`), 2MASS's from its S/N = 10 limits (:data:`TWO_MASS_LIMITS`), a band's error
held at :data:`MAX_BAND_ERROR` (a magnitude that uncertain carries no information). A star whose
XP spectrum has S/N ``t`` is one that Gaia observed: Gaia's errors are extrapolated beyond G = 21
rather than cut. A 2MASS band beyond its limit keeps a value, as forced photometry would give one
(the catalogue would have none, and the methods need one where training had one), with the error
of a background-limited source of that magnitude, up to the cap. ``dm`` is at most
:data:`MAX_FAINTER`.
"""

import warnings

import numpy as np

from ..data.spectra import Spectra
from ..data.stars import BANDS

__all__ = ["GAIA_ERRORS", "TWO_MASS_LIMITS", "TWO_MASS_FLOOR", "MAX_BAND_ERROR", "MAX_FAINTER", "degrade_to_snr", "fainter_features",
           "band_errors", "snr_slope", "snr_at_magnitudes"]

#: Typical Gaia EDR3 uncertainties against G (Gaia Collaboration, Brown et al. 2021, A&A 649, A1):
#: name -> (G, error) points, mag for the bands and mas for the parallax, interpolated linearly in
#: log10(error), held at the first point's error for brighter stars and extrapolated along the last
#: segment for fainter ones.
GAIA_ERRORS = {
    "g": ((13.0, 0.0003), (17.0, 0.001), (20.0, 0.006)),
    "bp": ((13.0, 0.0009), (17.0, 0.012), (20.0, 0.108)),
    "rp": ((13.0, 0.0006), (17.0, 0.006), (20.0, 0.052)),
    "parallax": ((15.0, 0.025), (17.0, 0.07), (20.0, 0.5), (21.0, 1.3)),
}
#: 2MASS magnitudes of S/N = 10 (Skrutskie et al. 2006, AJ 131, 1163): a band's error is
#: ``hypot(TWO_MASS_FLOOR, 1.0857 / S/N)`` with S/N = 10 x 10^(-0.4 (m - limit)) (background-limited),
#: and a band made fainter than its limit (or than its measured magnitude, where that is fainter) is
#: not detected.
TWO_MASS_LIMITS = {"j": 15.8, "h": 15.1, "k": 14.3}
#: The error of a bright 2MASS magnitude (calibration), mag.
TWO_MASS_FLOOR = 0.02
#: The largest error of a band's magnitude, mag (about S/N 1).
MAX_BAND_ERROR = 1.0
#: The most magnitudes a ladder star is made fainter by (a sample whose S/N barely falls with G would
#: otherwise ask for absurd ones).
MAX_FAINTER = 10.0
#: The parallax features, mas: the parallax, and parallax x 10^(0.2 H) / 100.
_PARALLAX, _REDUCED_PARALLAX = "parallax", "reduced_parallax_h"
#: Fewest stars in a magnitude bin of the S/N-G relation.
_MIN_BIN_STARS = 20


def degrade_to_snr(spectra, target_snr, rng, basis=None, noise=None):
    """The spectra at median S/N ``target_snr``, and which of the given stars they are.

    Parameters
    ----------
    spectra : Spectra
    target_snr : float
    rng : numpy.random.Generator
        Draws the added noise (seed it to give every method the same noisy spectra).
    basis : ndarray, shape (n_pixels, n_vectors), optional
        Orthonormal columns: the added noise is drawn in their span (band-limited, correlated
        between pixels, as the noise of spectra sampled from fewer coefficients is), each
        pixel's variance kept as for independent noise. None: independent pixels.
    noise : labeltransfer.xp.noise.XPNoise, optional
        An XP noise model: each star's own (same stars, same order) or one template for all. The
        added noise has its pixel-to-pixel correlations, each pixel's variance ``(s / t)^2 - 1``
        times the pixel's own. Not with ``basis``.

    Returns
    -------
    degraded : Spectra
        The stars whose S/N is at least ``target_snr``; auxiliary features unchanged
        (:func:`fainter_features` degrades them).
    kept : ndarray of bool, shape (n_stars,)
    """
    if basis is not None and noise is not None:
        raise ValueError("degrade_to_snr: give basis or noise, not both")
    snr = spectra.snr()
    kept = np.isfinite(snr) & (snr >= target_snr)
    factor = (snr[kept] / target_snr)[:, None]
    error = spectra.flux_error[kept].astype(float)
    added = np.where(np.isfinite(error), error * np.sqrt(factor ** 2 - 1.0), 0.0)
    if noise is not None:
        drawn = noise.subset(kept).draw(rng, added)
    else:
        unit = rng.standard_normal(added.shape)
        if basis is not None:
            unit = (unit @ basis) @ basis.T / np.sqrt(np.sum(basis ** 2, axis=1))
        drawn = added * unit
    degraded = Spectra((spectra.flux[kept] + drawn).astype(spectra.flux.dtype),
                       (error * factor).astype(spectra.flux_error.dtype), spectra.wavelength, spectra.aux[kept],
                       spectra.aux_names)
    return degraded, kept


def fainter_features(spectra, g_mag, fainter_by, rng):
    """The spectra's colours and parallax as measured for the same stars ``fainter_by`` mag fainter.

    Parameters
    ----------
    spectra : Spectra
        Colours named ``<band>_<band>`` (bands of :data:`labeltransfer.data.stars.BANDS`),
        ``parallax`` and ``reduced_parallax_h`` among the auxiliary features; others are kept.
    g_mag : ndarray, shape (n_stars,)
        Each star's G magnitude.
    fainter_by : ndarray, shape (n_stars,)
        ``dm``, mag (>= 0; held at :data:`MAX_FAINTER`).
    rng : numpy.random.Generator
        One draw per star for each band of ``BANDS`` and the parallax, whichever features the
        spectra have: every feature set gets the same noise.

    Returns
    -------
    Spectra
        The same spectra with noisier auxiliary features (the module's docstring gives the model).
    """
    names = spectra.aux_names
    colours = [name for name in names if name.partition("_")[0] in BANDS and name.partition("_")[2] in BANDS]
    magnitudes = _band_magnitudes(g_mag, {name: spectra.aux_column(name) for name in colours})
    fainter_by = np.minimum(np.asarray(fainter_by, dtype=float), MAX_FAINTER)
    unit = rng.standard_normal((len(g_mag), len(BANDS) + 1))
    band_noise = {}
    for k, band in enumerate(BANDS):
        before = band_errors(band, g_mag, magnitudes[band])
        after = band_errors(band, g_mag + fainter_by, magnitudes[band] + fainter_by)
        band_noise[band] = unit[:, k] * np.sqrt(np.maximum(after ** 2 - before ** 2, 0.0))
    aux = spectra.aux.astype(float)
    for name in colours:
        first, _, second = name.partition("_")
        aux[:, names.index(name)] += band_noise[first] - band_noise[second]
    if _PARALLAX in names:
        before, after = (band_errors(_PARALLAX, g) for g in (g_mag, g_mag + fainter_by))
        parallax_noise = unit[:, -1] * np.sqrt(np.maximum(after ** 2 - before ** 2, 0.0))
        aux[:, names.index(_PARALLAX)] += parallax_noise
        if _REDUCED_PARALLAX in names:
            h_noisy = magnitudes["h"] + band_noise["h"]
            aux[:, names.index(_REDUCED_PARALLAX)] = aux[:, names.index(_PARALLAX)] * 10 ** (0.2 * h_noisy) / 100.0
    return Spectra(spectra.flux, spectra.flux_error, spectra.wavelength, aux.astype(spectra.aux.dtype), names)


def _band_magnitudes(g_mag, colours):
    """Each band's magnitude from G and the colours (``<a>_<b>`` = m_a - m_b), chained; NaN for a
    band that no chain of colours reaches from G (with a warning)."""
    magnitudes = {"g": np.asarray(g_mag, dtype=float)}
    found = True
    while found:
        found = False
        for name, values in colours.items():
            first, _, second = name.partition("_")
            if first in magnitudes and second not in magnitudes:
                magnitudes[second], found = magnitudes[first] - values, True
            elif second in magnitudes and first not in magnitudes:
                magnitudes[first], found = magnitudes[second] + values, True
    if missing := [band for band in BANDS if band not in magnitudes]:
        if any(band in name.split("_") for band in missing for name in colours):
            warnings.warn(f"no colour links the bands {missing} to G: their colours are taken as undetected "
                          "at every level of the S/N ladder")
        magnitudes.update({band: np.full(len(magnitudes["g"]), np.nan) for band in missing})
    return magnitudes


def band_errors(name, g_mag, magnitude=None):
    """The typical error of a band's magnitude (mag) or of the parallax (mas) of stars of these magnitudes.

    Parameters
    ----------
    name : str
        A band of :data:`labeltransfer.data.stars.BANDS` or ``parallax``.
    g_mag : ndarray, shape (n_stars,)
        G: Gaia's errors (:data:`GAIA_ERRORS`) go with it.
    magnitude : ndarray, shape (n_stars,), optional
        The band's own magnitude: 2MASS's errors (:data:`TWO_MASS_LIMITS`) go with it.

    Returns
    -------
    ndarray, shape (n_stars,)
        NaN where the magnitude is unknown; a band's error at most :data:`MAX_BAND_ERROR`.
    """
    if name in GAIA_ERRORS:
        points = np.asarray(GAIA_ERRORS[name], dtype=float)
        log_error = np.log10(points[:, 1])
        slope = (log_error[-1] - log_error[-2]) / (points[-1, 0] - points[-2, 0])
        g_mag = np.asarray(g_mag, dtype=float)
        inside = np.interp(g_mag, points[:, 0], log_error)
        error = 10 ** np.where(g_mag > points[-1, 0], log_error[-1] + slope * (g_mag - points[-1, 0]), inside)
        return error if name == _PARALLAX else np.minimum(error, MAX_BAND_ERROR)
    if name not in TWO_MASS_LIMITS:
        raise KeyError(f"no error model for {name!r}: have {', '.join([*GAIA_ERRORS, *TWO_MASS_LIMITS])}")
    magnitude = np.asarray(magnitude, dtype=float)
    snr = 10.0 * 10 ** (-0.4 * (magnitude - TWO_MASS_LIMITS[name]))
    return np.minimum(np.hypot(TWO_MASS_FLOOR, 2.5 / np.log(10) / snr), MAX_BAND_ERROR)


def _median_relation(snr, g_mag, width):
    """The bins' centres (G) and median log10(S/N) of the sample's stars, bins of ``width`` mag with at
    least ``_MIN_BIN_STARS`` stars."""
    good = np.isfinite(snr) & (snr > 0) & np.isfinite(g_mag)
    if not good.any():
        return np.empty(0), np.empty(0)
    edges = np.arange(np.floor(g_mag[good].min()), np.ceil(g_mag[good].max()) + width, width)
    centres, medians = [], []
    for lo in edges[:-1]:
        inside = good & (g_mag >= lo) & (g_mag < lo + width)
        if inside.sum() >= _MIN_BIN_STARS:
            centres.append(lo + width / 2)
            medians.append(np.log10(np.median(snr[inside])))
    return np.array(centres), np.array(medians)


def _monotone_fit(snr, g_mag, width):
    """Slope and intercept of the line in log10(S/N) against G through the bins from the one of highest
    median S/N to the faintest (the range where S/N falls with G); NaN if fewer than two bins."""
    centres, medians = _median_relation(snr, g_mag, width)
    if len(centres) < 2:
        return np.nan, np.nan
    peak = int(np.argmax(medians))
    if len(centres) - peak < 2:
        return np.nan, np.nan
    return tuple(np.polyfit(centres[peak:], medians[peak:], 1))


def snr_slope(snr, g_mag, width=0.5):
    """``beta``: how many dex the sample's typical S/N falls per magnitude of G (> 0).

    The median S/N in bins of ``width`` mag (bins of fewer than 20 stars left out) rises with G
    among the brightest stars of the XP library (few stars, near saturation) and falls beyond: a
    line in log10(S/N) against G is fitted only from the bin of highest median S/N to the faintest
    bin, where it falls. NaN where fewer than two bins are left, or where S/N does not fall.
    """
    slope, _ = _monotone_fit(snr, g_mag, width)
    return -slope if slope < 0 else np.nan


def snr_at_magnitudes(snr, g_mag, magnitudes, width=0.5):
    """The typical S/N of a star of each G magnitude, from a sample's S/N-G relation.

    The line of :func:`snr_slope`, fitted only to the monotone part of the relation (from the bin
    of highest median S/N to the faintest), evaluated at ``magnitudes``; beyond the sample's
    magnitudes it extrapolates. NaN if fewer than two bins are usable, or where S/N does not fall.
    """
    slope, intercept = _monotone_fit(snr, g_mag, width)
    if not slope < 0:
        return np.full(len(magnitudes), np.nan)
    return 10 ** (intercept + slope * np.asarray(magnitudes, dtype=float))
