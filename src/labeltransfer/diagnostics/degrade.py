"""Spectra made noisier: the S/N ladder that shows how each method's precision falls with S/N.

A spectrum of median S/N ``s`` is brought to a target ``t <= s`` by scaling its flux errors by
``s / t`` and adding Gaussian noise of variance ``(s / t)^2 - 1`` times each pixel's own
variance, drawn independently per pixel: the noisier spectrum has the same shape of errors over
wavelength, its median S/N is ``t`` and the noise in it is what its errors say. Noise is never
taken away: a star below the target is left out at that level. Masked pixels stay masked.

The Gaia XP sampled spectra of the library are 343 samples of at most 110 coefficients, so
their real noise is correlated between neighbouring pixels; independent noise at the same
per-pixel S/N has more power on small scales, which methods that see the spectrum through its
leading principal components (the nearest-neighbour floor, the MLP's ``flux_components``)
largely project out: on the library the ladder is optimistic for them at low S/N compared with
a star that is really that faint. Where the XP coefficients' covariances are at hand (the
archive tasks), the noise is drawn with each star's own correlations instead
(:class:`labeltransfer.xp.noise.XPNoise`).
"""

import numpy as np

from ..data.spectra import Spectra

__all__ = ["degrade_to_snr", "snr_at_magnitudes"]


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
        The stars' own XP noise model (same stars, same order): the added noise has each
        star's pixel-to-pixel correlations, each pixel's variance kept. Not with ``basis``.

    Returns
    -------
    degraded : Spectra
        The stars whose S/N is at least ``target_snr``; auxiliary features unchanged.
    kept : ndarray of bool, shape (n_stars,)
    """
    snr = spectra.snr()
    kept = np.isfinite(snr) & (snr >= target_snr)
    factor = (snr[kept] / target_snr)[:, None]
    error = spectra.flux_error[kept].astype(float)
    usable = np.isfinite(error)
    added = np.where(usable, error * np.sqrt(factor ** 2 - 1.0), 0.0)
    if basis is not None and noise is not None:
        raise ValueError("degrade_to_snr: give basis or noise, not both")
    unit = rng.standard_normal(added.shape) if noise is None else noise.subset(kept).unit_noise(rng)
    if basis is not None:
        unit = (unit @ basis) @ basis.T / np.sqrt(np.sum(basis ** 2, axis=1))
    flux = spectra.flux[kept] + added * unit
    degraded = Spectra(flux.astype(spectra.flux.dtype), (error * factor).astype(spectra.flux_error.dtype),
                       spectra.wavelength, spectra.aux[kept], spectra.aux_names)
    return degraded, kept


def snr_at_magnitudes(snr, g_mag, magnitudes, width=0.5):
    """The typical S/N of a star of each G magnitude, from a sample's S/N-G relation.

    A straight line in log10(S/N) against G, fitted to the median S/N in bins of ``width``
    mag (bins of fewer than 20 stars left out), evaluated at ``magnitudes`` (beyond the
    sample's magnitudes it extrapolates). NaN if fewer than two bins are usable.
    """
    good = np.isfinite(snr) & (snr > 0) & np.isfinite(g_mag)
    edges = np.arange(np.floor(g_mag[good].min()), np.ceil(g_mag[good].max()) + width, width) if good.any() else []
    centres, medians = [], []
    for lo in edges[:-1]:
        inside = good & (g_mag >= lo) & (g_mag < lo + width)
        if inside.sum() >= 20:
            centres.append(lo + width / 2)
            medians.append(np.log10(np.median(snr[inside])))
    if len(centres) < 2:
        return np.full(len(magnitudes), np.nan)
    slope, intercept = np.polyfit(centres, medians, 1)
    return 10 ** (intercept + slope * np.asarray(magnitudes, dtype=float))
