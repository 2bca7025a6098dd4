"""The anomalies: the stars The Cannon's model fits worst, against a linear model with Gaussian noise."""

import numpy as np
import pytest

from conftest import LINEAR_NAMES as NAMES, linear_stars
from labeltransfer.methods import make_method


def test_the_worst_fitted_stars_are_those_with_a_feature_the_model_lacks(rng):
    train, labels, _ = linear_stars(2000, rng, 0.01)
    model = make_method("cannon", {"order": 1, "calibration_stars": 0}).fit(
        train, labels, np.full_like(labels, 1e-3), NAMES)
    test, _, _ = linear_stars(300, rng, 0.01)
    test.flux[:5, 60:64] += 0.2  # an emission line in five stars
    fitted, sigma, misfit = model.fitted_labels_and_misfit(test)
    assert set(np.argsort(-misfit)[:5]) == set(range(5)) and np.median(misfit[5:]) == pytest.approx(1.0, abs=0.1)
    values, residual = model.normalised_residuals(test, fitted)
    assert np.all(residual[:5, 60:64] > 5) and abs(np.median(residual[5:])) < 0.1
    np.testing.assert_allclose(model.model_flux(values[5:]), test.flux[5:], atol=0.05)  # linear: the model itself
