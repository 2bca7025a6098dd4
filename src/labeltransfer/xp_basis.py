"""Gaia XP coefficients as sampled spectra by one matrix product, and the noise they carry.

``gaiaxpy.calibrate`` turns a source's 55 BP and 55 RP basis-function coefficients into a flux
on a wavelength grid. It is linear in the coefficients (each band's basis functions sampled on
the grid, then the two bands joined with fixed weights per pixel), so calibrating the 110 unit
coefficient vectors once gives the whole map, a design matrix ``D`` of shape (n_pixels, 110):
the flux of any source is ``D @ [bp; rp]``. The flux covariance is ``D C D^T`` with ``C`` the
block-diagonal covariance of the coefficients, ``diag(e) R diag(e)`` per band (``e`` the
coefficient errors, ``R`` the correlations; the solution's standard deviation cancels, as in
gaiaxpy), whose diagonal is gaiaxpy's ``flux_error`` squared
(:class:`labeltransfer.xp_noise.XPNoise` draws noise with it).
"""

from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = ["N_COEFFICIENTS", "design_matrix", "coefficient_covariance", "XPSampler"]

#: Basis functions per band in Gaia DR3.
N_COEFFICIENTS = 55


@lru_cache(maxsize=4)
def _cached_design(grid):
    from gaiaxpy import calibrate  # heavy import, needed only here

    rows = []
    for band in ("bp", "rp"):
        for k in range(N_COEFFICIENTS):
            row = {"source_id": len(rows) + 1}
            for other in ("bp", "rp"):
                row[f"{other}_coefficients"] = np.eye(N_COEFFICIENTS)[k] if other == band else np.zeros(N_COEFFICIENTS)
                row[f"{other}_coefficient_errors"] = np.ones(N_COEFFICIENTS)
                row[f"{other}_coefficient_correlations"] = np.zeros(N_COEFFICIENTS * (N_COEFFICIENTS - 1) // 2)
                row[f"{other}_n_parameters"] = N_COEFFICIENTS
                row[f"{other}_standard_deviation"] = 1.0
            rows.append(row)
    sampled, sampling = calibrate(pd.DataFrame(rows), sampling=np.array(grid), save_file=False)
    if not np.allclose(sampling, grid):
        raise ValueError(f"gaiaxpy sampled on another grid ({sampling[0]}-{sampling[-1]} nm)")
    design = np.vstack(sampled.sort_values("source_id")["flux"].to_numpy()).T
    design.setflags(write=False)
    return design


def design_matrix(wavelength):
    """The map from ``[bp; rp]`` coefficients (110) to the flux at ``wavelength`` (nm), shape
    (n_pixels, 110), from ``gaiaxpy.calibrate`` of the unit coefficient vectors (cached)."""
    return _cached_design(tuple(float(w) for w in wavelength))


def coefficient_covariance(errors, correlations):
    """One band's coefficient covariance ``diag(e) R diag(e)``, shape (n, n).

    ``correlations`` is ``R`` or its lower triangle without the diagonal, row by row (the
    archive's ``*_coefficient_correlations``)."""
    errors = np.asarray(errors, dtype=float)
    correlations = np.asarray(correlations, dtype=float)
    if correlations.ndim == 1:
        n = len(errors)
        if len(correlations) != n * (n - 1) // 2:
            raise ValueError(f"{len(correlations)} correlations for {n} coefficients (need {n * (n - 1) // 2})")
        matrix = np.zeros((n, n))
        matrix[np.tril_indices(n, -1)] = correlations
        correlations = matrix + matrix.T + np.eye(n)
    return errors[:, None] * correlations * errors[None, :]


class XPSampler:
    """XP coefficients of many sources to flux and flux errors on a grid, a few matrix products per block.

    The flux is ``D_bp c_bp + D_rp c_rp``. Each pixel's variance ``sum_ij D_pi C_ij D_pj`` is, per
    band, linear in the covariance's entries: with ``e`` the coefficient errors and ``r`` the
    archive's correlations (lower triangle, row by row), the diagonal part is ``(e^2) @ (D^2)^T``
    and the rest ``(e_i e_j r_ij) @ (2 D_pi D_pj)^T`` over the pairs ``i > j``: one matrix product
    per block instead of a quadratic form per source. A source without one band has NaN flux
    (and infinite error) on every pixel that band contributes to (gaiaxpy fills the overlap from
    the other band alone; here those pixels are masked).

    Parameters
    ----------
    wavelength : ndarray
        The grid (nm).
    """

    def __init__(self, wavelength):
        design = design_matrix(wavelength)
        self.wavelength = np.asarray(wavelength, dtype=float)
        self.bands = [design[:, k * N_COEFFICIENTS:(k + 1) * N_COEFFICIENTS] for k in range(2)]
        rows, cols = np.tril_indices(N_COEFFICIENTS, -1)
        self._pairs = rows, cols
        # each band's variance only on the pixels it contributes to (BP 154, RP 193 of 343 on the
        # library's grid): half the work of the cross terms, which set the conversion's speed
        self._touches = [np.any(band != 0, axis=1) for band in self.bands]
        touched = [band[touches] for band, touches in zip(self.bands, self._touches)]
        self._square = [(band ** 2).T.copy() for band in touched]
        self._cross = [(2 * band[:, rows] * band[:, cols]).T.copy() for band in touched]

    def sample(self, coefficients, errors, correlations):
        """Flux and flux error, shape (n, n_pixels) each, from coefficients and errors (n, 2, 55) and
        correlations (n, 2, 1485), NaN for a missing band (its pixels masked: NaN flux, inf error)."""
        rows, cols = self._pairs
        flux = np.zeros((len(coefficients), len(self.wavelength)))
        variance = np.zeros_like(flux)
        missing = np.zeros(flux.shape, dtype=bool)
        for b, band in enumerate(self.bands):
            has = np.isfinite(coefficients[:, b, 0])
            e = np.where(has[:, None], errors[:, b], 0.0)
            flux += np.where(has[:, None], coefficients[:, b], 0.0) @ band.T
            pairs = np.take(e, rows, axis=1)  # e_i e_j r_ij over the pairs i > j, in place
            pairs *= np.take(e, cols, axis=1)
            pairs *= correlations[:, b]
            pairs[~has] = 0.0  # a missing band's correlations are NaN
            variance[:, self._touches[b]] += (e ** 2) @ self._square[b] + pairs @ self._cross[b]
            missing |= ~has[:, None] & self._touches[b]
        flux[missing] = np.nan
        error = np.sqrt(np.clip(variance, 0.0, None))
        error[missing] = np.inf
        return flux, error
