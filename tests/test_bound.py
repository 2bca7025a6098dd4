"""The information bound's pieces (labeltransfer.diagnostics.bound): the van Trees bound against an exact
linear-Gaussian case with correlated noise and a Gaussian prior; the XP noise in coefficient space
against the pixel-space inverse; the real coefficient-covariance template, rescaled to a star's pixel
errors, against the stars' own covariances; the population prior's information; and which methods
are compared with the bound."""

import numpy as np
import pytest

from conftest import SHARED_FIXTURES
from labeltransfer.diagnostics.bound import (RCOND, XPCoefficientNoise, comparable_methods, frequentist_bounds,
                                             population_bounds, population_prior)
from labeltransfer.methods.mixture import GaussianMixture
from labeltransfer.xp.basis import design_matrix
from labeltransfer.xp.bulk import read_xp_blocks
from labeltransfer.xp.continuous import read_xp_covariances
from labeltransfer.xp.covariance_template import TEMPLATE, derive_template, template_covariance
from labeltransfer.xp.library import XP_WAVELENGTH

REAL_XP = SHARED_FIXTURES / "real" / "gaia_xp"
needs_real = pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")


def _coefficient_case(rng, n_pixels=40, n_coefficients=10, k=3):
    """A random design, coefficient covariance factor, derivative in the design's range and the pixel
    errors that covariance gives (so that rescaling it to them changes nothing)."""
    design = rng.standard_normal((n_pixels, n_coefficients))
    factor = np.tril(rng.normal(0, 0.3, (n_coefficients, n_coefficients)), -1)
    factor += np.diag(rng.uniform(0.5, 1.5, n_coefficients))
    jacobian = design @ rng.standard_normal((n_coefficients, k))
    covariance = design @ factor @ factor.T @ design.T
    return design, factor, jacobian, covariance, np.sqrt(np.diag(covariance))


def test_the_van_trees_bound_is_the_linear_gaussian_posterior_s_mean_squared_error(rng):
    design, factor, jacobian, covariance, error = _coefficient_case(rng)
    added = rng.uniform(0.5, 2.0, len(error))
    sigma = covariance + np.diag(added)  # correlated noise: the coefficients' plus the added
    noise = XPCoefficientNoise(jacobian[None], error[None], design, factor, rcond=1e-12)
    fisher = noise.fisher([0], [1.0], added[None])
    exact = jacobian.T @ np.linalg.solve(sigma, jacobian)
    np.testing.assert_allclose(fisher[0], exact, rtol=1e-9)
    prior_covariance = np.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.2]])
    prior_mean = np.array([1.0, -2.0, 0.5])
    bound = np.linalg.inv(exact + np.linalg.inv(prior_covariance))
    precision = np.linalg.inv(prior_covariance)  # a one-component prior: both van Trees bounds are this one
    whole, by_component = population_bounds(np.repeat(fisher, 7, axis=0), np.full((1, 7), 1 / 7), precision,
                                            np.ones((7, 1)), precision[None])
    np.testing.assert_allclose(whole[0], np.diag(bound), rtol=1e-9)
    np.testing.assert_allclose(by_component[0], np.diag(bound), rtol=1e-9)
    n = 20_000  # the posterior mean reaches the bound: its mean squared error over the population is the bound
    theta = rng.multivariate_normal(prior_mean, prior_covariance, n)
    data = theta @ jacobian.T + rng.multivariate_normal(np.zeros(len(error)), sigma, n)
    posterior_mean = prior_mean + (data - prior_mean @ jacobian.T) @ np.linalg.solve(sigma, jacobian) @ bound
    mse = np.mean((posterior_mean - theta) ** 2, axis=0)
    np.testing.assert_allclose(mse, np.diag(bound), rtol=0.05)  # 20,000 draws: 1% per variance


def test_where_the_information_differs_between_populations_the_bound_by_component_is_the_tight_one(rng):
    # y = exp(theta) + noise, theta from two populations: the information exp(2 theta) / sigma^2 differs 150-fold
    n, sigma = 6000, 0.3
    theta = np.where(rng.random(n) < 0.5, rng.normal(-1.0, 0.3, n), rng.normal(1.5, 0.3, n))
    data = np.exp(theta) + sigma * rng.standard_normal(n)
    grid = np.linspace(-3.0, 3.5, 1500)
    prior = np.exp(-0.5 * ((grid + 1.0) / 0.3) ** 2) + np.exp(-0.5 * ((grid - 1.5) / 0.3) ** 2)
    posterior = prior * np.exp(-0.5 * ((data[:, None] - np.exp(grid)) / sigma) ** 2)
    mse = np.mean((posterior @ grid / posterior.sum(axis=1) - theta) ** 2)  # the posterior mean's: the least
    stars = theta[:4000, None]
    mixture = GaussianMixture(2, random_state=0).fit(stars)
    whole, by_component = population_bounds((np.exp(2 * stars) / sigma ** 2)[:, :, None], np.full((1, 4000), 1 / 4000),
                                            mixture.information(50_000, np.random.default_rng(1)),
                                            mixture.responsibilities(stars), mixture.precisions())
    assert 0.85 * by_component.item() < mse < 1.3 * by_component.item()  # valid, and nearly reached
    assert by_component.item() > 4 * whole.item()  # the bound over the whole is dominated by the informative stars


def test_the_prior_information_of_gaussian_draws_is_the_inverse_covariance(rng):
    covariance = np.array([[4.0, 1.0, 0.0], [1.0, 1.0, 0.2], [0.0, 0.2, 0.25]])
    draws = rng.multivariate_normal([5000.0, 2.0, 0.0], covariance, 5000)
    mixture, table = population_prior(draws[:4000], draws[4000:], candidates=(1, 2, 4), seed=1)
    information = mixture.information(100_000, np.random.default_rng(2))
    root = np.linalg.cholesky(covariance)
    assert np.linalg.eigvalsh(root.T @ information @ root) == pytest.approx(1.0, abs=0.15)
    assert table["chosen"].sum() == 1 and table.loc[table["chosen"], "n_components"].item() == mixture.n_components


def test_a_two_population_prior_holds_more_information_than_a_gaussian_of_its_covariance(rng):
    draws = np.vstack([rng.normal([-3.0, 0.0], 0.5, (3000, 2)), rng.normal([3.0, 0.0], 0.5, (3000, 2))])
    rng.shuffle(draws)
    mixture, _ = population_prior(draws[:5000], draws[5000:], candidates=(1, 2, 4), seed=1)
    information = mixture.information(50_000, np.random.default_rng(3))
    root = np.linalg.cholesky(np.cov(draws, rowvar=False))
    ratio = np.linalg.eigvalsh(root.T @ information @ root)  # J_P against Sigma^-1: >= 1, the Gaussian's least
    assert mixture.n_components >= 2 and ratio.min() > 0.9 and ratio.max() > 10


def test_the_woodbury_form_is_the_pixel_space_inverse_with_masked_pixels_and_own_covariances(rng):
    design, factor, jacobian, covariance, error = _coefficient_case(rng, n_pixels=50, n_coefficients=12, k=4)
    added = rng.uniform(0.1, 3.0, (3, 50))
    errors = np.tile(error, (3, 1))
    errors[1, 5:9] = np.inf  # masked pixels: they drop out
    factors = np.stack([factor, 2 * factor, factor])  # each star's own covariance; the second's is 4 times
    errors[1] *= 2
    noise = XPCoefficientNoise(np.repeat(jacobian[None], 3, 0), errors, design, factors, rcond=1e-12)
    fisher = noise.fisher(np.array([2, 1, 0]), np.array([1.0, 1.0, 3.0]), added[[2, 1, 0]])
    for position, (star, scale) in enumerate([(2, 1.0), (1, 4.0), (0, 3.0)]):
        usable = np.isfinite(errors[star])
        sigma = scale * covariance[np.ix_(usable, usable)] + np.diag(added[star, usable])
        direct = jacobian[usable].T @ np.linalg.solve(sigma, jacobian[usable])
        np.testing.assert_allclose(fisher[position], direct, rtol=1e-8)
    without = noise.fisher(np.array([0]), np.array([4.0]), np.zeros((1, 50)))  # W -> 0: J_c^T C^-1 J_c, times 1/4
    np.testing.assert_allclose(without[0], jacobian.T @ np.linalg.solve(covariance, jacobian) / 4, rtol=1e-8)


def test_the_template_rescaled_per_pixel_reproduces_a_star_s_pixel_errors():
    design = design_matrix(XP_WAVELENGTH)
    factor = np.linalg.cholesky(template_covariance())
    own = 0.003 * np.sqrt(np.sum((design @ factor) ** 2, axis=1))
    shaped = 0.01 * (1.5 + np.sin(XP_WAVELENGTH / 60.0)) * (XP_WAVELENGTH / 500.0) ** 2  # another star's errors
    shaped[:20] = np.inf  # its bluest pixels masked
    noise = XPCoefficientNoise(np.zeros((2, len(XP_WAVELENGTH), 1)), np.vstack([own, shaped]), design, factor)
    assert noise.resolved(0) == 83  # of 110 coefficient directions, the 2 nm grid resolves 83 above RCOND
    # the template's own errors: but for what the 27 directions left out hold (0.6% at most, where BP ends)
    np.testing.assert_allclose(noise.error_ratio(0, own), 1.0, rtol=0.01)
    ratio = noise.error_ratio(1, shaped)
    assert len(ratio) == len(XP_WAVELENGTH) - 20
    assert np.median(ratio) == pytest.approx(1.0, abs=0.01)
    assert 0.93 < np.percentile(ratio, 5) and np.percentile(ratio, 95) < 1.15  # worst (up to 1.5) where BP and RP join


def test_the_shipped_template_is_a_covariance_of_unit_correlations():
    with np.load(TEMPLATE) as shipped:
        np.testing.assert_allclose(np.diagonal(shipped["correlation"], axis1=1, axis2=2), 1.0)
        assert np.sqrt(np.mean(shipped["relative_errors"] ** 2, axis=1)) == pytest.approx([1.0, 1.0])
    assert np.linalg.eigvalsh(template_covariance()).min() > 0


@needs_real
def test_the_shipped_template_is_made_again_from_the_real_rows():
    made = derive_template(REAL_XP / "XP_CONTINUOUS_RAW.csv")
    with np.load(TEMPLATE) as shipped:
        for key in ("source_id", "correlation", "relative_errors"):
            np.testing.assert_allclose(made[key], shipped[key], rtol=1e-12, err_msg=key)


def _real_star(path, row):
    """A real source's normalised XP pixel errors (a missing band's pixels masked), its own coefficient
    covariance factor, and model derivatives shaped like its flux (slopes, lines, a wiggle)."""
    design = design_matrix(XP_WAVELENGTH)
    block = next(read_xp_blocks(path))
    covariance = read_xp_covariances([path], block.source_id)[row]
    values, vectors = np.linalg.eigh(covariance)
    flux = design @ np.nan_to_num(block.coefficients[row].reshape(-1))
    masked = np.zeros(len(XP_WAVELENGTH), bool)
    for band in np.flatnonzero(~block.has_band()[row]):
        masked |= np.any(design[:, band * 55:(band + 1) * 55] != 0, axis=1)
    median = np.median(flux[~masked])
    error = np.where(masked, np.inf, np.sqrt(np.einsum("pi,ij,pj->p", design, covariance, design)) / abs(median))
    x = (XP_WAVELENGTH - 678.0) / 342.0
    lines = [np.exp(-0.5 * ((XP_WAVELENGTH - centre) / 9.0) ** 2) for centre in (656.0, 860.0)]
    jacobian = flux[:, None] / median * np.column_stack([x, x ** 2, *lines, np.cos(5 * x)])
    return design, error, vectors * np.sqrt(np.clip(values, 0, None)), jacobian


def _bound_ratio(design, error, own, jacobian, added, rcond=RCOND):
    """The template's Cramer-Rao bound over that of the star's own covariance, each parameter."""
    bounds = []
    for factor in (np.linalg.cholesky(template_covariance()), own):
        noise = XPCoefficientNoise(jacobian[None], error[None], design, factor, rcond=rcond)
        variance = (added * np.where(np.isfinite(error), error, 0.0)) ** 2
        bounds.append(frequentist_bounds(noise.fisher([0], [1.0], variance[None]))[0])
    return bounds[0] / bounds[1]


@needs_real
def test_a_factor_per_band_cannot_give_another_real_source_s_pixel_errors():
    design = design_matrix(XP_WAVELENGTH)
    (_, error, _, _), (_, _, other, _) = (_real_star(REAL_XP / "XP_CONTINUOUS_RAW.csv", row) for row in (0, 1))
    variance = np.column_stack([np.sum((design[:, band] @ other[band]) ** 2, axis=1)  # the other's, per band
                                for band in (slice(0, 55), slice(55, 110))])
    relative = variance / error[:, None] ** 2
    factors, *_ = np.linalg.lstsq(relative, np.ones(len(error)), rcond=None)  # the best factor per band
    assert np.all(factors > 0)
    ratio = np.sqrt(relative @ factors)
    assert np.mean((ratio < 0.5) | (ratio > 2)) > 0.3  # 0.78 of the pixels (0.34 the other way round)


@needs_real
def test_the_template_gives_a_held_out_real_source_s_bound_once_the_ladder_adds_noise():
    # 5405570973190252288 (RP only) is not one of the template's sources
    star = _real_star(REAL_XP / "XP_CONTINUOUS_RAW_with_missing_BP.csv", 1)
    assert np.all(np.abs(_bound_ratio(*star, added=np.sqrt(10.0)) - 1) < 0.05)  # S/N divided by sqrt(11)
    assert np.all(np.abs(_bound_ratio(*star, added=1.0) - 1) < 0.15)  # S/N divided by sqrt(2)
    assert np.all(np.abs(_bound_ratio(*star, added=0.0) - 1) < 0.5)  # at its own S/N: the template's shape shows


@needs_real
def test_the_coefficients_left_out_below_rcond_change_the_bound_little_once_the_ladder_adds_noise():
    design, error, own, jacobian = _real_star(REAL_XP / "XP_CONTINUOUS_RAW.csv", 0)

    def bounds(variance, rcond):  # the ladder's added variance over the star's own
        noise = XPCoefficientNoise(jacobian[None], error[None], design, own, rcond=rcond)
        return frequentist_bounds(noise.fisher([0], [1.0], variance * error[None] ** 2))[0]

    for variance in (0.01, 1.0):
        np.testing.assert_allclose(bounds(variance, 3 * RCOND), bounds(variance, RCOND), rtol=0.02)
        np.testing.assert_allclose(bounds(variance, RCOND / 10), bounds(variance, RCOND), rtol=0.02)
    np.testing.assert_allclose(bounds(0.0, 3 * RCOND), bounds(0.0, RCOND), rtol=0.2)  # at its own S/N: more


def test_a_singular_fisher_matrix_leaves_its_parameter_unbounded():
    fisher = np.array([[[4.0, 0.0], [0.0, 0.0]], [[4.0, 0.0], [0.0, 1.0]]])
    bounds = frequentist_bounds(fisher)
    assert bounds[0, 0] == pytest.approx(0.5) and np.isinf(bounds[0, 1])
    np.testing.assert_allclose(bounds[1], [0.5, 1.0])


def test_only_the_methods_that_read_the_flux_alone_are_compared_with_the_bound():
    compared, left_out = comparable_methods({"knn": "flux", "payne": "flux", "cannon": "flux_colours",
                                             "mlp": "flux_colours_parallax"})
    assert compared == ["knn", "payne"]
    assert left_out == {"cannon": "reads colours besides the flux, which the bound leaves out",
                        "mlp": "reads colours and parallax besides the flux, which the bound leaves out"}


def test_the_mixture_density_integrates_to_one_and_its_score_is_its_gradient(rng):
    draws = np.column_stack([rng.normal(5000, 600, 3000), rng.gamma(2.0, 0.1, 3000)])
    mixture = GaussianMixture(4, random_state=0).fit(draws)
    grid = np.stack(np.meshgrid(np.linspace(2000, 8000, 400), np.linspace(-0.5, 1.5, 400)), -1).reshape(-1, 2)
    cell = (6000 / 399) * (2.0 / 399)
    assert np.sum(np.exp(mixture.log_density(grid))) * cell == pytest.approx(1.0, abs=0.01)
    points, step = draws[:5], np.array([1e-2, 1e-6])
    numerical = [(mixture.log_density(points + step * e) - mixture.log_density(points - step * e)) / (2 * step[i])
                 for i, e in enumerate(np.eye(2))]
    np.testing.assert_allclose(mixture.score(points), np.column_stack(numerical), rtol=1e-5, atol=1e-9)
