"""The information bound of The Cannon's model, against a linear model with Gaussian noise (where the
Cramer-Rao bound is exact and the maximum-likelihood labels reach it)."""

import numpy as np
import pytest

from conftest import LINEAR_NAMES as NAMES, LINEAR_PIXELS as N_PIXELS, linear_stars
from labeltransfer.data.spectra import Spectra
from labeltransfer.methods import make_method


def test_the_bound_is_the_analytic_one_and_the_fitted_labels_reach_it(rng):
    error = 0.01
    train, labels, slopes = linear_stars(4000, rng, error)
    model = make_method("cannon", {"order": 1, "calibration_stars": 0}).fit(
        train, labels, np.full_like(labels, 1e-3), NAMES)
    fisher, per_pixel = model.label_information(train.subset(np.arange(5)), labels[:5])
    np.testing.assert_allclose(per_pixel.sum(axis=1), np.diagonal(fisher, axis1=1, axis2=2))
    analytic = np.sqrt(np.diag(np.linalg.inv(slopes.T @ slopes / error ** 2)))
    np.testing.assert_allclose(np.sqrt(np.diagonal(np.linalg.inv(fisher), axis1=1, axis2=2)),
                               np.tile(analytic, (5, 1)), rtol=0.03)
    one_star, _, _ = linear_stars(1, np.random.default_rng(9), 0.0)
    repeats = Spectra(np.repeat(one_star.flux, 2000, axis=0) + error * rng.standard_normal((2000, N_PIXELS)),
                      np.full((2000, N_PIXELS), error), one_star.wavelength, np.empty((2000, 0)), ())
    predicted, _ = model.predict(repeats, calibrate=False)
    np.testing.assert_allclose(predicted.std(axis=0), analytic, rtol=0.06)  # 2,000 draws: 1.6% per std


def test_noisier_spectra_hold_less_information(rng):
    train, labels, _ = linear_stars(2000, rng, 0.01)
    model = make_method("cannon", {"order": 1, "calibration_stars": 0}).fit(
        train, labels, np.full_like(labels, 1e-3), NAMES)
    stars = train.subset(np.arange(3))
    native, twice = (model.label_information(stars, labels[:3], factor)[0] for factor in (1.0, 2.0))
    np.testing.assert_allclose(twice, native / 4, rtol=0.05)  # the intrinsic scatter is ~0 here
