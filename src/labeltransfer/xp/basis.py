"""Gaia XP coefficients as sampled spectra by one matrix product, and the noise they carry.

``gaiaxpy.calibrate`` turns a source's 55 BP and 55 RP basis-function coefficients into a flux
on a wavelength grid. It is linear in the coefficients (each band's basis functions sampled on
the grid, then the two bands joined with fixed weights per pixel), so calibrating the 110 unit
coefficient vectors once gives the whole map, a design matrix ``D`` of shape (n_pixels, 110):
the flux of any source is ``D @ [bp; rp]``. The flux covariance is ``D C D^T`` with ``C`` the
block-diagonal covariance of the coefficients, ``diag(e) R diag(e)`` per band (``e`` the
coefficient errors, ``R`` the correlations; the solution's standard deviation cancels, as in
gaiaxpy), whose diagonal is gaiaxpy's ``flux_error`` squared
(:class:`labeltransfer.xp.noise.XPNoise` draws noise with it).
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["N_COEFFICIENTS", "LIBRARY_DESIGN", "gaiaxpy_design", "write_library_design", "design_matrix",
           "coefficient_covariance", "XPSampler"]

#: Basis functions per band in Gaia DR3.
N_COEFFICIENTS = 55


#: The design matrix on the XP library's grid (``wavelength``, ``design``), made by
#: :func:`gaiaxpy_design` and shipped so that a survey's chunk jobs need not import gaiaxpy (1.7 s
#: each); the tests check it against gaiaxpy. Made again with
#: ``python -c "from labeltransfer.xp.basis import write_library_design; write_library_design()"``.
LIBRARY_DESIGN = Path(__file__).with_name("design.npz")


def gaiaxpy_design(wavelength):
    """The design matrix, shape (n_pixels, 110), by ``gaiaxpy.calibrate`` of the 110 unit coefficient vectors."""
    from gaiaxpy import calibrate  # heavy import, needed only here

    grid = np.asarray(wavelength, dtype=float)
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
    sampled, sampling = calibrate(pd.DataFrame(rows), sampling=grid, save_file=False)
    if not np.allclose(sampling, grid):
        raise ValueError(f"gaiaxpy sampled on another grid ({sampling[0]}-{sampling[-1]} nm)")
    return np.vstack(sampled.sort_values("source_id")["flux"].to_numpy()).T


def write_library_design(path=LIBRARY_DESIGN):
    """Write :data:`LIBRARY_DESIGN`: gaiaxpy's design matrix on the XP library's grid."""
    from .library import XP_WAVELENGTH

    np.savez_compressed(path, wavelength=XP_WAVELENGTH, design=gaiaxpy_design(XP_WAVELENGTH))


@lru_cache(maxsize=4)
def _cached_design(grid):
    design = None
    if LIBRARY_DESIGN.exists():
        with np.load(LIBRARY_DESIGN) as shipped:
            if np.array_equal(shipped["wavelength"], grid):
                design = shipped["design"]
    if design is None:
        design = gaiaxpy_design(grid)
    design.setflags(write=False)
    return design


def design_matrix(wavelength):
    """The map from ``[bp; rp]`` coefficients (110) to the flux at ``wavelength`` (nm), shape
    (n_pixels, 110), from ``gaiaxpy.calibrate`` of the unit coefficient vectors (:func:`gaiaxpy_design`;
    on the XP library's grid the shipped copy, :data:`LIBRARY_DESIGN`; cached)."""
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


#: A band's distinct covariance entries: the 55 variances, then the 1,485 pairs i > j.
_N_ENTRIES = N_COEFFICIENTS * (N_COEFFICIENTS + 1) // 2


class XPSampler:
    """XP coefficients of many sources to flux and flux errors on a grid, a few matrix products per block.

    The flux is ``D_bp c_bp + D_rp c_rp`` (float64). Each pixel's variance ``sum_ij D_pi C_ij D_pj``
    is, per band, linear in the covariance's 1,540 distinct entries (with ``e`` the coefficient errors
    and ``r`` the archive's correlations, lower triangle row by row: ``e_i^2`` and ``e_i e_j r_ij``,
    ``i > j``), so a block's variances are one matrix product, the entries against the products of
    the basis functions ``D_pi D_pj``. Those products have a numerical rank well below the band's
    pixels (84 of 154 for BP, 92 of 193 for RP on the library's grid, singular values below
    ``1e-10`` of the largest dropped, which alone changes the errors by 5e-6 at most, in float64,
    on nearly degenerate coefficients), so the product goes through that rank: half the work. The entries and the products are float32, as
    the archive's errors and correlations are, in blocks of ``sub_rows`` that stay in the core's
    cache. The flux is float64, equal to ``gaiaxpy.calibrate``'s to 1e-15; the flux errors agree
    with its float64 ones to 1.9e-6 (relative, the largest on the real rows; 2e-7 the median), and
    to 2e-4 where a band's coefficients are nearly degenerate (a pixel's variance then a small
    difference of large float32 terms; the tests hold both).
    A source without one band has NaN flux (and infinite error) on every pixel that band
    contributes to (gaiaxpy fills the overlap from the other band alone; here those pixels are
    masked). So has a band with a NaN, infinite or overflowing coefficient, error or correlation:
    it is found on the band's flux and variance (any such value makes every pixel of the band
    non-finite), one cheap pass over the band's pixels, not over its 1,485 correlations, and is
    reported by :meth:`sample_bands` as unusable.

    Parameters
    ----------
    wavelength : ndarray
        The grid (nm).
    sub_rows : int
        Sources whose covariance entries are built and multiplied at a time.
    """

    def __init__(self, wavelength, sub_rows=256):
        design = design_matrix(wavelength)
        self.wavelength = np.asarray(wavelength, dtype=float)
        self.sub_rows = sub_rows
        # the basis values are ~1e-17 (W m^-2 nm^-1): their products would be float32 subnormals
        self._scale = float(np.max(np.abs(design)))
        self._bands = [_Band(design[:, k * N_COEFFICIENTS:(k + 1) * N_COEFFICIENTS], self._scale) for k in range(2)]

    def sample(self, coefficients, errors, correlations):
        """Flux and flux error, shape (n, n_pixels) each (float64), from coefficients and errors
        (n, 2, 55) and correlations (n, 2, 1485), a missing or unusable band's pixels masked (NaN
        flux, inf error): :meth:`sample_bands` without the bands' usability."""
        return self.sample_bands(coefficients, errors, correlations)[:2]

    def sample_bands(self, coefficients, errors, correlations):
        """Flux, flux error (as :meth:`sample`) and whether each source's BP and RP were usable,
        shape (n, 2): present (coefficients not NaN, as the archive's missing band reads) and with
        a finite flux and variance on every pixel of the band (no NaN, infinite or overflowing
        coefficient, error or correlation). An unusable band's pixels are masked."""
        n = len(coefficients)
        usable = np.isfinite(coefficients[:, :, 0])
        flux = np.zeros((n, len(self.wavelength)))
        variance = np.zeros(flux.shape, dtype=np.float32)
        errors = np.asarray(errors, dtype=np.float32)  # a missing band's entries are zeroed in _Band.variance
        entries = np.empty((min(self.sub_rows, n), _N_ENTRIES), dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing value: its band is unusable
            for b, band in enumerate(self._bands):
                band_flux = np.where(usable[:, b, None], coefficients[:, b], 0.0) @ band.design
                usable[:, b] &= np.isfinite(band_flux.sum(axis=1))
                flux[:, band.pixels] += band_flux
                for lo in range(0, n, self.sub_rows):
                    block = slice(lo, lo + self.sub_rows)
                    band_variance = band.variance(errors[block, b], correlations[block, b], ~usable[block, b], entries)
                    usable[block, b] &= np.isfinite(band_variance.sum(axis=1))
                    variance[block, band.pixels] += band_variance
            # float64: the errors are ~1e-19 W m^-2 nm^-1, whose squares are float32 subnormals
            error = np.multiply(np.sqrt(np.maximum(variance, 0.0, out=variance), out=variance), self._scale,
                                dtype=float)
        for b, band in enumerate(self._bands):
            unusable = np.flatnonzero(~usable[:, b])
            flux[unusable, band.pixels] = np.nan
            error[unusable, band.pixels] = np.inf
        return flux, error, usable


class _Band:
    """One band on the pixels it reaches: its basis (coefficients to flux, float64) and its flux
    variance from its coefficients' covariance entries, through the products' numerical rank, in
    units of ``scale**2``."""

    def __init__(self, band, scale):
        reached = np.flatnonzero(np.any(band != 0, axis=1))
        self.pixels = slice(reached[0], reached[-1] + 1) if len(reached) else slice(0, 0)  # none: a grid beyond the band
        self.design = np.ascontiguousarray(band[self.pixels].T)
        band = band[self.pixels] / scale
        rows, cols = np.tril_indices(N_COEFFICIENTS, -1)
        products = np.vstack([(band ** 2).T, (2 * band[:, rows] * band[:, cols]).T])  # (1540, pixels)
        u, s, vt = np.linalg.svd(products, full_matrices=False)
        rank = int(np.sum(s > 1e-10 * s[0])) if len(s) else 0
        self._left = np.ascontiguousarray(u[:, :rank] * s[:rank], dtype=np.float32)
        self._right = np.ascontiguousarray(vt[:rank], dtype=np.float32)

    def variance(self, errors, correlations, missing, entries):
        """The variance (float32, on ``self.pixels``) of sources with these coefficient errors and
        correlations; ``entries`` is scratch space of at least (n, 1540)."""
        entries = entries[:len(errors)]
        np.multiply(errors, errors, out=entries[:, :N_COEFFICIENTS])
        for i in range(1, N_COEFFICIENTS):  # row i of the lower triangle: e_i e_j, j < i
            start = N_COEFFICIENTS + i * (i - 1) // 2
            np.multiply(errors[:, :i], errors[:, i, None], out=entries[:, start:start + i])
        entries[:, N_COEFFICIENTS:] *= correlations
        entries[missing] = 0.0  # a missing band's correlations are NaN
        return (entries @ self._left) @ self._right
