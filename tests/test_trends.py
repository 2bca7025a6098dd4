"""Residual trends: slopes against extinction, brightness and sky position, with intervals."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.data.sample import build_sample
from labeltransfer.diagnostics.trends import QUANTITIES, fitted_slopes, residual_trends, trend_quantities
from library_factory import synthetic_stars


def test_a_trend_is_found_and_its_absence_is_a_tie(rng):
    n = 3000
    quantities = pd.DataFrame({name: rng.uniform(0, 1, n) for name in QUANTITIES})
    residual = 0.5 * quantities["a_k"] + rng.normal(0, 0.1, n)
    residual[:20] = 50.0  # catastrophic stars: left out of the slope
    table = pd.DataFrame({"fe_h": residual, "fe_h_ref": 0.0})
    trends = residual_trends({"m": table}, quantities, ["fe_h"], n_resamples=300, seed=1).set_index("quantity")
    assert trends.loc["a_k", "slope"] == pytest.approx(0.5, abs=0.02)
    assert trends.loc["a_k", "slope_lo95"] > 0.45 and trends.loc["a_k", "n"] == n - 20
    assert trends.loc["g_mag", "slope_lo95"] < 0 < trends.loc["g_mag", "slope_hi95"]


def test_fitted_slopes_per_resample(rng):
    x = rng.uniform(0, 10, 200)
    y = 2.0 * x + 1.0
    assert fitted_slopes(x, y) == pytest.approx(2.0)
    np.testing.assert_allclose(fitted_slopes(x, y, rng.integers(0, 200, (5, 200))), 2.0)


def test_galactic_coordinates_of_the_centre_and_the_pole():
    sample = build_sample(synthetic_stars(40, seed=1), {"teff": {"range": [3000, 7000], "max_err": 300,
                                                                 "err_floor": 10, "required": True}},
                          {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    sample.ra[:2], sample.dec[:2] = [266.405, 192.8595], [-28.936, 27.1283]  # Sgr A*, the north Galactic pole
    quantities = trend_quantities(sample, sample.apogee_id[:2])
    assert abs(quantities["gal_l"][0]) < 0.1 and abs(quantities["gal_b"][0]) < 0.1
    assert quantities["gal_b"][1] == pytest.approx(90.0, abs=0.01)
    np.testing.assert_array_equal(quantities["g_mag"], sample.g_mag[:2])
