"""Preparing medium- and high-resolution spectra for the methods: continuum, rest frame, grid.

- The continuum is an inverse-variance-weighted Gaussian smooth of the flux (as Ho et al.
  2017 did for LAMOST): the kernel does not depend on S/N, so stars of any S/N are
  normalised the same way, and masked pixels (zero inverse variance) do not pull it.
- A spectrum is moved to the rest frame by the star's radial velocity where the survey gives
  one (``lambda_rest = lambda_obs / (1 + v / c)``).
- Resampling onto a common grid interpolates the flux linearly; a new pixel whose neighbours
  include a masked pixel, or that lies outside the observed range, is masked (inverse variance
  zero), and the inverse variance otherwise follows the interpolation.
"""

import numpy as np
from scipy import sparse

__all__ = ["SPEED_OF_LIGHT_KMS", "continuum_normalise", "to_rest_frame", "resample", "log_linear_grid"]

SPEED_OF_LIGHT_KMS = 299792.458


def continuum_normalise(wavelength, flux, ivar, width, truncate=3.0):
    """Divide by an inverse-variance-weighted Gaussian smooth of the flux.

    Parameters
    ----------
    wavelength : ndarray, shape (n_pixels,)
        Increasing; shared by all spectra (resample first).
    flux, ivar : ndarray, shape (n_pixels,) or (n_stars, n_pixels)
    width : float
        Gaussian sigma of the smoothing kernel, in the units of ``wavelength`` (e.g. 50 A).
    truncate : float
        The kernel is cut at this many sigma (a sparse matrix, so that 8,575-pixel APOGEE
        spectra stay cheap).

    Returns
    -------
    flux, ivar : ndarray, shaped as the input
        Normalised flux and its inverse variance (zero where masked or where the continuum is
        not positive).
    """
    shape = np.shape(flux)
    flux, ivar = np.atleast_2d(flux).astype(float), np.atleast_2d(ivar).astype(float)
    kernel = _gaussian_kernel(np.asarray(wavelength, dtype=float), width, truncate)
    weight = (kernel @ ivar.T).T
    smooth = (kernel @ (ivar * flux).T).T
    continuum = np.divide(smooth, weight, out=np.zeros_like(weight), where=weight > 0)
    usable = continuum > 0
    normalised = np.divide(flux, continuum, out=np.zeros_like(flux), where=usable)
    normalised_ivar = np.where(usable, ivar * continuum ** 2, 0.0)
    return normalised.reshape(shape), normalised_ivar.reshape(shape)


def _gaussian_kernel(wavelength, width, truncate):
    """Sparse (n, n) matrix of exp(-(dlambda / width)^2 / 2) for |dlambda| <= truncate * width."""
    n = wavelength.size
    lo = np.searchsorted(wavelength, wavelength - truncate * width)
    hi = np.searchsorted(wavelength, wavelength + truncate * width, side="right")
    rows = np.repeat(np.arange(n), hi - lo)
    cols = np.arange(rows.size) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo) + np.repeat(lo, hi - lo)
    values = np.exp(-0.5 * ((wavelength[rows] - wavelength[cols]) / width) ** 2)
    return sparse.csr_matrix((values, (rows, cols)), shape=(n, n))


def to_rest_frame(wavelength, radial_velocity_kms):
    """Rest-frame wavelengths of a spectrum observed at ``radial_velocity_kms`` (positive: receding)."""
    return np.asarray(wavelength, dtype=float) / (1.0 + np.asarray(radial_velocity_kms, dtype=float) / SPEED_OF_LIGHT_KMS)


def log_linear_grid(start, stop, step_log10):
    """A log-linear wavelength grid from ``start`` to at most ``stop`` (``log10`` step given)."""
    n = int(np.floor((np.log10(stop) - np.log10(start)) / step_log10 + 1e-9)) + 1
    return 10 ** (np.log10(start) + step_log10 * np.arange(n))


def resample(wavelength, flux, ivar, new_wavelength):
    """Linear interpolation of one spectrum onto ``new_wavelength``, carrying the mask.

    Parameters
    ----------
    wavelength, flux, ivar : ndarray, shape (n_pixels,)
        Increasing wavelengths.
    new_wavelength : ndarray, shape (m,)

    Returns
    -------
    flux, ivar : ndarray, shape (m,)
    """
    wavelength = np.asarray(wavelength, dtype=float)
    new_wavelength = np.asarray(new_wavelength, dtype=float)
    right = np.clip(np.searchsorted(wavelength, new_wavelength), 1, len(wavelength) - 1)
    left = right - 1
    t = (new_wavelength - wavelength[left]) / (wavelength[right] - wavelength[left])
    inside = (new_wavelength >= wavelength[0]) & (new_wavelength <= wavelength[-1])
    usable = inside & (ivar[left] > 0) & (ivar[right] > 0)
    new_flux = (1 - t) * flux[left] + t * flux[right]
    variance = (1 - t) ** 2 / np.where(usable, ivar[left], 1.0) + t ** 2 / np.where(usable, ivar[right], 1.0)
    return np.where(usable, new_flux, 0.0), np.where(usable, 1.0 / variance, 0.0)
