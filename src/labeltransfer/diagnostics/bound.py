"""The information bound: how well any estimate of a star's parameters can do, under a model of the
spectrum, a model of its noise and the population's distribution of parameters.

The model is a fitted spectrum model (``model_flux(parameters)``: the flux and its Jacobian ``J``,
d flux / d parameter, per star). The noise is one of two kinds, each with the same
:meth:`~XPCoefficientNoise.fisher`:

- :class:`XPCoefficientNoise`, for Gaia XP spectra: pixels sampled from 110 coefficients,
  ``f = D c + w`` (``D`` the design matrix, :func:`labeltransfer.xp.basis.design_matrix`), ``c``
  with covariance ``C_i``, ``w`` the added noise with covariance ``W_i``. With the model's
  derivative projected onto the coefficients (``J_c``), the Fisher information is
  ``J_c^T (C_i + (D^T W_i^-1 D)^-1)^-1 J_c`` (Woodbury: exactly ``J_c^T D^T (D C_i D^T + W_i)^-1 D J_c``;
  ``J_c^T C_i^-1 J_c`` as ``W_i -> 0``), computed on the coefficient directions the sampled
  spectrum resolves (:data:`RCOND`).
- :class:`IndependentPixelNoise`, for spectra measured pixel by pixel (RVS, LAMOST).

The prior: the van Trees (Bayesian Cramer-Rao) inequality bounds the mean squared error of any
estimator over the population, bias included, by ``(E_i[I(theta_i)] + J_P)^-1``, ``J_P =
E[grad log p grad log p^T]`` of the population's density ``p``, and, applied to each component of
a mixture ``p``, by the average of the components' bounds (:func:`population_bounds`); here ``p``
is a Gaussian mixture fitted by expectation-maximisation
(:class:`labeltransfer.methods.mixture.GaussianMixture`, :func:`population_prior`). A Gaussian with
the population's covariance ``Sigma`` has the least prior information of any density with that
covariance (``J_P >= Sigma^-1``): it would understate ``J_P``, and so overstate the bound. Without
the prior, each star's own Cramer-Rao bound (:func:`frequentist_bounds`) bounds unbiased estimates only.
"""

import numpy as np
import pandas as pd

from ..methods.mixture import GaussianMixture
from ..xp.noise import pixel_scale

__all__ = ["RCOND", "MIXTURE_COMPONENTS", "SPECTRUM_NOISES", "bound_name", "XPCoefficientNoise",
           "IndependentPixelNoise", "population_prior", "population_bounds", "frequentist_bounds",
           "comparable_methods"]

#: Coefficient directions whose singular value in a star's design matrix (on its usable pixels) is
#: below this fraction of the largest are left out: the 2 nm grid does not resolve them (on the XP
#: library's grid 83 of 110 are kept). docs/diagnostics.md gives how the bound depends on it.
RCOND = 1e-3
#: Numbers of mixture components tried for the population prior; the one with the best mean
#: log-density of the validation stars' parameters is kept.
MIXTURE_COMPONENTS = (1, 2, 4, 8, 16, 32, 64)
#: The spectrum's own noise in the bound, by name (the first part of a noise's name: ``<name>+ladder``,
#: ``<name>+ladder+intrinsic_scatter``): what it is.
SPECTRUM_NOISES = {
    "xp_template": "the XP coefficient covariance (a real template, rescaled to each star's pixel errors)",
    "xp_own": "each star's own XP coefficient covariance",
    "pixels": "each star's pixel errors, independent",
}
#: The noise added to the spectrum's own, by name.
_ADDED_NOISES = {"ladder": "the S/N ladder's added noise", "intrinsic_scatter": "the model's intrinsic scatter"}
#: Stars whose projected noise is built at a time (bounds the memory: stars x 110 x 343 floats).
_CHUNK = 256


def bound_name(model, noise, prior):
    """What a bound is, in words: its model, its noise (a name ``<spectrum noise>+ladder[+intrinsic_scatter]``)
    and its prior (``gaussian_mixture_<n>``)."""
    spectrum, *added = noise.split("+")
    parts = [SPECTRUM_NOISES[spectrum], *(_ADDED_NOISES[a] for a in added)]
    components = prior.removeprefix("gaussian_mixture_")
    return (f"the population (van Trees) bound under the {model} model, with noise {' + '.join(parts)}, and the "
            f"population prior (a Gaussian mixture of {components} components fitted to the training stars' reference "
            "parameters)")


class XPCoefficientNoise:
    """The Fisher information of XP spectra sampled from their coefficients, with added pixel noise.

    Each star's XP noise is ``D L_i L_i^T D^T`` rescaled, pixel by pixel, to the star's own flux
    errors (:func:`labeltransfer.xp.noise.pixel_scale`, with which :class:`labeltransfer.xp.noise.XPNoise`
    draws the S/N ladder's noise), and both it
    and the model's derivative are projected onto the range of ``D`` on the star's usable pixels,
    to the directions ``D`` resolves: ``U`` (orthonormal, pixels x r), from the singular values of
    ``D`` above ``rcond`` times the largest. In those coordinates (``z = U^T f``) the XP noise is
    ``C_z = U^T S D L L^T D^T S U`` (``S`` the per-pixel rescaling) and the derivative ``J_z = U^T J``;
    the projection leaves out the model's derivative outside the range of ``D``, which a real
    XP spectrum cannot have.

    Parameters
    ----------
    jacobian : ndarray, shape (n_stars, n_pixels, k)
        d flux / d parameter at each star's parameters.
    flux_error : ndarray, shape (n_stars, n_pixels)
        The spectra's own errors; ``inf`` marks a masked pixel (a missing band: all of its pixels).
    design : ndarray, shape (n_pixels, 110)
    factors : ndarray, shape (110, 110) or (n_stars, 110, 110)
        ``L`` with ``L L^T`` the coefficient covariance: one template for every star, or each star's own.
    rcond : float
    """

    def __init__(self, jacobian, flux_error, design, factors, rcond=RCOND):
        usable = np.isfinite(flux_error)
        masks, self._group = np.unique(usable, axis=0, return_inverse=True)
        self._group = self._group.ravel()
        self._position = np.empty(len(usable), dtype=int)
        self._bases, self._jz, self._cz = [], [], []
        factors = np.asarray(factors, dtype=float)
        for g, mask in enumerate(masks):
            rows = np.flatnonzero(self._group == g)
            self._position[rows] = np.arange(len(rows))
            u, s, _ = np.linalg.svd(design[mask], full_matrices=False)
            basis = np.ascontiguousarray(u[:, s > rcond * s[0]])
            self._bases.append((mask, basis))
            self._jz.append(basis.T @ jacobian[rows][:, mask])
            self._cz.append(np.concatenate([
                _projected_noise(basis, design[mask], factors if factors.ndim == 2 else factors[chunk],
                                 flux_error[chunk][:, mask], chunk)
                for chunk in np.array_split(rows, max(1, -(-len(rows) // _CHUNK)))]))

    def resolved(self, row):
        """The number of coefficient directions kept for star ``row``."""
        return self._bases[self._group[row]][1].shape[1]

    def error_ratio(self, row, flux_error):
        """The projected XP noise's error over the star's own, on its usable pixels (1 where the
        rescaled noise lies in the resolved range of ``D``; :class:`XPCoefficientNoise`)."""
        group = self._group[row]
        mask, basis = self._bases[group]
        variance = np.einsum("pr,rs,ps->p", basis, self._cz[group][self._position[row]], basis)
        return np.sqrt(variance) / flux_error[mask]

    def fisher(self, rows, covariance_factor, pixel_variance):
        """The Fisher information of the stars ``rows`` about the parameters.

        Parameters
        ----------
        rows : ndarray of int, shape (m,)
        covariance_factor : ndarray, shape (m,)
            Each star's XP noise times this (1: as measured; ``(s / t)^2`` at the S/N ladder's level
            ``t``, whose added noise has the star's own XP noise's covariance: its own or the template).
        pixel_variance : ndarray, shape (m, n_pixels)
            Independent noise added per pixel (the model's intrinsic scatter squared); all zero for a
            star: none.

        Returns
        -------
        ndarray, shape (m, k, k)
        """
        rows = np.asarray(rows)
        covariance_factor = np.broadcast_to(np.asarray(covariance_factor, dtype=float), (len(rows),))
        pixel_variance = np.asarray(pixel_variance, dtype=float)
        fisher = np.empty((len(rows), self._jz[0].shape[2], self._jz[0].shape[2]))
        for g, (mask, basis) in enumerate(self._bases):
            here = np.flatnonzero(self._group[rows] == g)
            if not here.size:
                continue
            at = self._position[rows[here]]
            jz = self._jz[g][at]
            variance = pixel_variance[here][:, mask]
            added = np.any(variance > 0, axis=1)
            if np.any(added & np.any(variance <= 0, axis=1)):
                raise ValueError("pixel_variance: a star's added noise is zero on some usable pixels, not all")
            covariance = covariance_factor[here, None, None] * self._cz[g][at]
            solved = np.linalg.solve(covariance[~added], jz[~added])
            fisher[here[~added]] = np.einsum("nrk,nrl->nkl", jz[~added], solved)
            for chunk in np.array_split(np.flatnonzero(added), max(1, -(-added.sum() // _CHUNK))):
                # M = U^T W^-1 U is well conditioned (W diagonal, positive); C + M^-1 is too, where (I + M C)
                # is not once W is much smaller than C (the intrinsic scatter alone, added to the ladder's noise)
                precision = _stacked_product(basis.T[None] / variance[chunk][:, None, :], basis)
                solved = np.linalg.solve(covariance[chunk] + np.linalg.inv(precision), jz[chunk])
                fisher[here[chunk]] = np.einsum("nrk,nrl->nkl", jz[chunk], solved)
        return fisher


def _projected_noise(basis, design, factors, flux_error, rows):
    """``C_z`` of stars ``rows`` (see :class:`XPCoefficientNoise`), shape (len(rows), r, r)."""
    flux_factors = design @ factors  # (p, 110), or (n, p, 110): the XP noise's factor on the pixels
    scale = pixel_scale(np.sqrt(np.sum(flux_factors ** 2, axis=-1)), flux_error, sources=rows)
    rescaled = basis.T[None] * scale[:, None, :]  # (n, r, p)
    projected = _stacked_product(rescaled, flux_factors) if flux_factors.ndim == 2 else rescaled @ flux_factors
    return projected @ np.swapaxes(projected, 1, 2)


def _stacked_product(stack, matrix):
    """``stack @ matrix`` for a stack (n, a, b) and one matrix (b, c), as one matrix product (numpy's
    stacked product with a shared matrix is several times slower)."""
    n, a, b = stack.shape
    return (stack.reshape(n * a, b) @ matrix).reshape(n, a, matrix.shape[1])


class IndependentPixelNoise:
    """The Fisher information of spectra whose pixels' noise is independent (not sampled from a basis).

    Parameters
    ----------
    jacobian : ndarray, shape (n_stars, n_pixels, k)
    flux_error : ndarray, shape (n_stars, n_pixels)
        ``inf`` marks a masked pixel.
    """

    def __init__(self, jacobian, flux_error):
        self._jacobian = np.where(np.isfinite(flux_error)[:, :, None], jacobian, 0.0)
        self._variance = np.where(np.isfinite(flux_error), flux_error, 1.0).astype(float) ** 2

    def fisher(self, rows, covariance_factor, pixel_variance):
        """As :meth:`XPCoefficientNoise.fisher`: ``J^T diag(1 / (factor * error^2 + pixel_variance)) J``."""
        weight = 1.0 / (covariance_factor[:, None] * self._variance[rows] + pixel_variance)
        return np.einsum("npk,np,npl->nkl", self._jacobian[rows], weight, self._jacobian[rows])


def population_prior(train, validation, candidates=MIXTURE_COMPONENTS, seed=0):
    """The population's density: the Gaussian mixture, among ``candidates`` numbers of components
    fitted to ``train`` (n, d), with the best mean log-density of ``validation``.

    Returns
    -------
    GaussianMixture
    pandas.DataFrame
        One row per candidate: ``n_components``, the mean log-density of the ``train`` and of the
        ``validation`` parameters, ``chosen``.
    """
    fits, rows = [], []
    for n in candidates:
        if n > len(train):
            continue
        mixture = GaussianMixture(n, random_state=seed).fit(train)
        fits.append(mixture)
        rows.append({"n_components": n, "train_log_density": float(np.mean(mixture.log_density(train))),
                     "validation_log_density": float(np.mean(mixture.log_density(validation)))})
    table = pd.DataFrame(rows)
    best = int(np.argmax(table["validation_log_density"]))
    table["chosen"] = np.arange(len(table)) == best
    return fits[best], table


def population_bounds(fisher, weights, prior_information, responsibilities, precisions):
    """Two van Trees bounds on each parameter's mean squared error over a population of stars.

    - Over the whole population: ``(E_i[F_i] + J_P)^-1``.
    - Component by component of the prior's mixture: given the component ``z = k``, the parameters
      follow its Gaussian (information ``P_k``, its inverse covariance), so the van Trees inequality
      bounds the error over that component's stars by ``(E[F | z = k] + P_k)^-1``, and the whole
      by ``sum_k w_k (E[F | z = k] + P_k)^-1`` (``w_k`` the population's share of component ``k``;
      expectations over the stars weighted by their responsibilities). Where the information
      differs much from star to star (cool giants hold far more about Teff than hot dwarfs) the
      first is dominated by the most informative stars, and this one is the tighter.

    Both hold for any estimator; the larger of the two is the population bound.

    Parameters
    ----------
    fisher : ndarray, shape (n_stars, k, k)
        Each star's Fisher information at its parameters.
    weights : ndarray, shape (n_weightings, n_stars)
        Weightings of the stars, each summing to one: the stars themselves (``1 / n_stars`` each),
        or a bootstrap resample (counts / n_stars).
    prior_information : ndarray, shape (k, k)
        ``J_P`` of the population's density.
    responsibilities : ndarray, shape (n_stars, n_components)
        Each star's membership of each component of the density (``GaussianMixture.responsibilities``).
    precisions : ndarray, shape (n_components, k, k)
        Each component's inverse covariance (``GaussianMixture.precisions``).

    Returns
    -------
    whole, by_component : ndarray, shape (n_weightings, k)
        The bounds on each parameter's mean squared error (the diagonal: with nuisance parameters,
        the labels' block of the inverse, not the inverse of the labels' block).
    """
    n, k, _ = fisher.shape
    flat = fisher.reshape(n, k * k)
    whole = np.linalg.inv((weights @ flat).reshape(-1, k, k) + prior_information)
    by_component = np.zeros((len(weights), k))
    for member, precision in zip(responsibilities.T, precisions):
        share = weights @ member
        mean = np.divide((weights * member) @ flat, share[:, None], out=np.zeros((len(weights), k * k)),
                         where=share[:, None] > 0)
        by_component += share[:, None] * np.diagonal(np.linalg.inv(mean.reshape(-1, k, k) + precision), axis1=1,
                                                     axis2=2)
    return np.diagonal(whole, axis1=1, axis2=2), by_component


def frequentist_bounds(fisher):
    """Each star's Cramer-Rao bound (no prior): the square root of the diagonal of ``F_i^-1``,
    shape (n_stars, k); ``inf`` for a parameter that a singular ``F_i`` leaves unconstrained."""
    values, vectors = np.linalg.eigh(fisher)
    singular = values <= 1e-12 * np.max(np.abs(values), axis=1, keepdims=True)
    inverse = np.where(singular, 0.0, 1.0 / np.where(singular, 1.0, values))
    weight = vectors ** 2
    variance = np.einsum("nkj,nj->nk", weight, inverse)
    variance[np.any((weight > 1e-12) & singular[:, None, :], axis=2)] = np.inf
    return np.sqrt(variance)


def comparable_methods(feature_sets):
    """The methods whose efficiency against the bound is computed, and the others with the reason.

    The bound is that of the spectrum alone: only a method that reads the flux alone (``feature_set``
    ``flux``) sees what the bound sees.

    Parameters
    ----------
    feature_sets : dict of str to str
        Each method's ``feature_set``.

    Returns
    -------
    compared : list of str
    left_out : dict of str to str
        Method -> why it is not compared.
    """
    compared = [m for m, feature_set in feature_sets.items() if feature_set == "flux"]
    left_out = {m: f"reads {feature_set.removeprefix('flux_').replace('_', ' and ')} besides the flux, which the "
                   "bound leaves out" for m, feature_set in feature_sets.items() if feature_set != "flux"}
    return compared, left_out
