"""Synthetic Gaia XP sources in the bulk-download layout, made from sampled spectra.

For tests and benchmarks of the survey stage where the archive is out of reach: each sampled
spectrum (the library's) is turned back into 55 + 55 coefficients by least squares with the XP
design matrix (the library's spectra are gaiaxpy samplings of real coefficients: they come back
to 1e-4 of their errors), given coefficient errors whose flux errors follow the spectrum's own
and a real source's coefficient correlations, and noise drawn with that covariance (the flux then
departs from the library's by its errors: 68% of pixels within 1 sigma); then written as a
gzipped ECSV chunk as the Gaia DR3 bulk area publishes ``XpContinuousMeanSpectrum_*.csv.gz``.
"""

import gzip

import numpy as np
from scipy.optimize import nnls

from .basis import N_COEFFICIENTS, coefficient_covariance, design_matrix

__all__ = ["synthetic_sources", "write_bulk_chunk"]

_BULK_COLUMNS = ("source_id", "solution_id", "bp_n_parameters", "bp_standard_deviation", "bp_coefficients",
                 "bp_coefficient_errors", "bp_coefficient_correlations", "rp_n_parameters", "rp_standard_deviation",
                 "rp_coefficients", "rp_coefficient_errors", "rp_coefficient_correlations")


def synthetic_sources(flux, flux_error, wavelength, template, rng):
    """Coefficients, errors and correlations (``XPBlock`` arrays) of sources made from sampled spectra.

    Parameters
    ----------
    flux, flux_error : ndarray, shape (n, n_pixels)
        Sampled spectra (any scale) and their errors.
    wavelength : ndarray
    template : XPBlock
        Real sources whose coefficient correlations are given to the synthetic ones, in turn.
    rng : numpy.random.Generator
        Draws the noise (with each source's covariance).
    """
    design = design_matrix(wavelength)
    # the basis functions' directions below 1e-6 of the largest singular value barely reach the grid:
    # left out, so that the coefficients stay of the size of the flux (and survive the text's digits)
    coefficients = np.linalg.lstsq(design, np.nan_to_num(np.asarray(flux, dtype=float).T), rcond=1e-6)[0].T
    coefficients = coefficients.reshape(len(flux), 2, N_COEFFICIENTS)
    correlations = template.correlations[np.arange(len(flux)) % len(template)].copy()
    errors = np.empty_like(coefficients)
    unit_draws = rng.standard_normal(coefficients.shape)
    for i in range(len(flux)):
        known = np.isfinite(flux_error[i])
        target = np.asarray(flux_error[i][known], dtype=float)
        # errors whose flux errors without the correlations are the spectrum's (least squares on their
        # squares), then scaled so that with the correlations the median flux error is the spectrum's
        errors[i] = np.sqrt(nnls(design[known] ** 2, target ** 2)[0]).reshape(2, N_COEFFICIENTS)
        factors = [np.linalg.cholesky(coefficient_covariance(errors[i, b], correlations[i, b])
                                      + 1e-30 * np.eye(N_COEFFICIENTS)) for b in range(2)]
        sigma = np.sqrt(sum(np.sum((design[known, b * N_COEFFICIENTS:(b + 1) * N_COEFFICIENTS] @ factors[b]) ** 2,
                                   axis=1) for b in range(2)))
        ratio = np.median(target / sigma)
        errors[i] *= ratio
        coefficients[i] += ratio * np.stack([factors[b] @ unit_draws[i, b] for b in range(2)])
    return coefficients, errors, correlations


def write_bulk_chunk(path, source_id, coefficients, errors, correlations, missing_bp=()):
    """Write sources as a gzipped ECSV chunk of the Gaia DR3 XP bulk download (``#`` header,
    ``"[...]"`` arrays, ``null`` for a missing band); sources in ``missing_bp`` have no BP."""
    missing_bp = set(np.asarray(missing_bp, dtype=np.int64).tolist())
    header = ["# %ECSV 1.0", "# ---", "# delimiter: ','", "# datatype:"]
    header += [f"# - {{name: {c}, datatype: {'int64' if c in ('source_id', 'solution_id') else 'string'}}}"
               for c in _BULK_COLUMNS]
    header += ["# meta: !!omap", "# - {Gaia data release: DR3}", "# schema: astropy-2.0", ",".join(_BULK_COLUMNS)]

    def array(values):
        return '"[' + ",".join(f"{v:.9g}" for v in values) + ']"'

    with gzip.open(path, "wt", compresslevel=1) as handle:
        handle.write("\n".join(header) + "\n")
        for i, sid in enumerate(np.asarray(source_id, dtype=np.int64)):
            cells = [str(sid), "4545469030156206080"]
            for b in range(2):
                if b == 0 and int(sid) in missing_bp:
                    cells += ["null"] * 5
                    continue
                cells += ["55", "1.0", array(coefficients[i, b]), array(errors[i, b]), array(correlations[i, b])]
            handle.write(",".join(cells) + "\n")
