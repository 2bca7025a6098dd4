"""Gaia XP coefficients to the spectra the methods read: sampled on a grid, divided by the median flux.

One route for every XP source: the Gaia XP archive tasks' spectra
(:func:`labeltransfer.xp.continuous.read_xp_continuous`) and the survey's
(:mod:`labeltransfer.survey.labelling`) are both made by :func:`normalised_xp_flux`, the flux and
flux error of :class:`labeltransfer.xp.basis.XPSampler` (``gaiaxpy.calibrate``'s to 1e-15 and 2e-6)
divided by each spectrum's median flux (:func:`divided_by_median`), as the XP library's spectra are.

A missing or unusable band masks every pixel it contributes to, its overlap with the other band
included: there ``gaiaxpy.calibrate`` takes the other band alone, and RP alone at its blue end is no
flux (on the real source without BP it goes negative, -0.8 times the median). The median is that of
the pixels left.
"""

import numpy as np

__all__ = ["normalised_xp_flux", "divided_by_median"]


def normalised_xp_flux(sampler, coefficients, errors, correlations):
    """XP sources' flux and flux error on the sampler's grid, divided by each one's median flux.

    Parameters
    ----------
    sampler : labeltransfer.xp.basis.XPSampler
        The grid's sampler (made once, used for every block).
    coefficients : ndarray, shape (n, 2, 55)
        BP then RP basis-function coefficients; NaN for a missing band.
    errors : ndarray, shape (n, 2, 55)
        Their errors (NaN for a missing band).
    correlations : ndarray, shape (n, 2, 1485)
        Each band's correlations, lower triangle row by row, as the archive writes them.

    Returns
    -------
    flux, flux_error : ndarray of float32, shape (n, n_pixels)
        Divided by the median flux over the unmasked pixels (:func:`divided_by_median`); a
        missing or unusable band's pixels masked (flux 0, error ``inf``), every pixel of a source
        with neither band usable.
    usable : ndarray of bool, shape (n, 2)
        Whether each source's BP and RP were present and usable
        (:meth:`labeltransfer.xp.basis.XPSampler.sample_bands`).
    """
    flux, flux_error, usable = sampler.sample_bands(coefficients, errors, correlations)
    return (*divided_by_median(flux, flux_error), usable)


def divided_by_median(flux, flux_error):
    """Spectra divided by each one's median flux over its unmasked pixels, as float32.

    Parameters
    ----------
    flux, flux_error : ndarray, shape (n, n_pixels)
        A pixel with a NaN flux or an infinite error is masked.

    Returns
    -------
    flux, flux_error : ndarray of float32, shape (n, n_pixels)
        The flux over its median and the error over the median's absolute value, the median that
        of the unmasked pixels (a band missing or pixels masked: the median of the rest). A masked
        pixel has error ``inf`` (and flux 0 where its flux was not finite); so has every pixel of a
        spectrum whose median is 0 or none.
    """
    usable = np.isfinite(flux) & np.isfinite(flux_error)
    median = np.full(len(flux), np.nan)
    whole = usable.all(axis=1)
    median[whole] = np.median(flux[whole], axis=1, overwrite_input=True)  # a copy already
    partial = np.flatnonzero(~whole & usable.any(axis=1))
    if len(partial):
        median[partial] = np.nanmedian(np.where(usable[partial], flux[partial], np.nan), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = 1.0 / median[:, None]
        normalised = np.multiply(flux, scale, out=np.empty(flux.shape, np.float32), casting="same_kind")
        normalised_error = np.multiply(flux_error, np.abs(scale), out=np.empty(flux.shape, np.float32),
                                       casting="same_kind")
    masked = ~np.isfinite(normalised)
    normalised[masked] = 0.0
    normalised_error[masked] = np.inf
    return normalised, normalised_error
