"""What The Cannon's model says about spectra: the information bound, against a linear model with
Gaussian noise (where the Cramer-Rao bound is exact and the maximum-likelihood labels reach it),
and the stars it fits worst."""

import numpy as np
import pytest

from labeltransfer.methods import make_method
from labeltransfer.data.spectra import Spectra

N_PIXELS = 120
NAMES = ("teff", "logg")


def _linear_stars(n, rng, error):
    """Spectra linear in the labels: flux = a + B (labels - centre) / width + Gaussian noise."""
    wavelength = np.linspace(400, 900, N_PIXELS)
    a = 1.0 + 0.2 * np.sin(wavelength / 50)
    b = np.column_stack([0.05 * np.cos(wavelength / 70), 0.03 * np.sin(wavelength / 40 + 1)])
    labels = np.column_stack([rng.uniform(4000, 6000, n), rng.uniform(1, 4, n)])
    standard = (labels - [5000, 2.5]) / [1000, 1.0]
    flux = a + standard @ b.T
    flux_error = np.full_like(flux, error)
    spectra = Spectra(flux + error * rng.standard_normal(flux.shape), flux_error, wavelength, np.empty((n, 0)), ())
    return spectra, labels, b / [1000, 1.0]


def test_the_bound_is_the_analytic_one_and_the_fitted_labels_reach_it(rng):
    error = 0.01
    train, labels, slopes = _linear_stars(4000, rng, error)
    model = make_method("cannon", {"order": 1, "calibration_stars": 0}).fit(
        train, labels, np.full_like(labels, 1e-3), NAMES)
    fisher, per_pixel = model.label_information(train.subset(np.arange(5)), labels[:5])
    np.testing.assert_allclose(per_pixel.sum(axis=1), np.diagonal(fisher, axis1=1, axis2=2))
    analytic = np.sqrt(np.diag(np.linalg.inv(slopes.T @ slopes / error ** 2)))
    np.testing.assert_allclose(np.sqrt(np.diagonal(np.linalg.inv(fisher), axis1=1, axis2=2)),
                               np.tile(analytic, (5, 1)), rtol=0.03)
    one_star, _, _ = _linear_stars(1, np.random.default_rng(9), 0.0)
    repeats = Spectra(np.repeat(one_star.flux, 2000, axis=0) + error * rng.standard_normal((2000, N_PIXELS)),
                      np.full((2000, N_PIXELS), error), one_star.wavelength, np.empty((2000, 0)), ())
    predicted, _ = model.predict(repeats, calibrate=False)
    np.testing.assert_allclose(predicted.std(axis=0), analytic, rtol=0.06)  # 2,000 draws: 1.6% per std


def test_noisier_spectra_hold_less_information(rng):
    train, labels, _ = _linear_stars(2000, rng, 0.01)
    model = make_method("cannon", {"order": 1, "calibration_stars": 0}).fit(
        train, labels, np.full_like(labels, 1e-3), NAMES)
    stars = train.subset(np.arange(3))
    native, twice = (model.label_information(stars, labels[:3], factor)[0] for factor in (1.0, 2.0))
    np.testing.assert_allclose(twice, native / 4, rtol=0.05)  # the intrinsic scatter is ~0 here


def test_the_worst_fitted_stars_are_those_with_a_feature_the_model_lacks(rng):
    train, labels, _ = _linear_stars(2000, rng, 0.01)
    model = make_method("cannon", {"order": 1, "calibration_stars": 0}).fit(
        train, labels, np.full_like(labels, 1e-3), NAMES)
    test, _, _ = _linear_stars(300, rng, 0.01)
    test.flux[:5, 60:64] += 0.2  # an emission line in five stars
    fitted, sigma, misfit = model.fitted_labels_and_misfit(test)
    assert set(np.argsort(-misfit)[:5]) == set(range(5)) and np.median(misfit[5:]) == pytest.approx(1.0, abs=0.1)
    values, residual = model.normalised_residuals(test, fitted)
    assert np.all(residual[:5, 60:64] > 5) and abs(np.median(residual[5:])) < 0.1
    np.testing.assert_allclose(model.model_flux(values[5:]), test.flux[5:], atol=0.05)  # linear: the model itself
