"""The calibration of the uncertainties with the star's S/N (methods/calibration.py): every S/N bin's
coverage held in the windows, on synthetic residuals whose width the method's sigma gets wrong."""

import numpy as np
import pytest

from labeltransfer.methods.calibration import (CALIBRATION_SNR_EDGES, COVERAGE_WINDOWS, _snr_bins,
                                               calibrate_uncertainties, calibrated, no_calibration)


def _stars(n, seed, snr_slope=-0.5):
    """Residuals of width ``2 (snr / 50) ** snr_slope`` and a method's sigma that knows nothing of it (1)."""
    rng = np.random.default_rng(seed)
    snr = np.exp(rng.uniform(np.log(10), np.log(400), n))
    residual = rng.standard_normal(n) * 2 * (snr / 50) ** snr_slope
    return residual[:, None], np.ones((n, 1)), snr


def _within_1_per_bin(residual, sigma, snr):
    which = np.searchsorted(CALIBRATION_SNR_EDGES, snr, side="right")
    return [float(np.mean(np.abs(residual[which == b, 0]) < sigma[which == b, 0]))
            for b in range(len(CALIBRATION_SNR_EDGES) + 1)]


def test_a_sigma_blind_to_the_s_n_is_made_to_cover_every_s_n_bin():
    residual, sigma, snr = _stars(4000, 1)
    calibration = calibrate_uncertainties(residual, sigma, np.zeros_like(residual), ["x"], "test", snr=snr)
    assert calibration.shape == (5, 1)
    assert calibration[3, 0] == pytest.approx(-0.5, abs=0.15)  # the residuals' own S/N slope
    test_residual, test_sigma, test_snr = _stars(4000, 2)
    within = _within_1_per_bin(test_residual, calibrated(test_sigma, calibration, test_snr), test_snr)
    low, high = COVERAGE_WINDOWS[1]
    assert all(low <= f <= high for f in within), within
    # the rule without the S/N: right over all stars, wrong at both ends
    blind = calibrate_uncertainties(residual, sigma, np.zeros_like(residual), ["x"], "test")
    assert blind[3, 0] == 0
    within = _within_1_per_bin(test_residual, calibrated(test_sigma, blind), test_snr)
    assert within[0] < 0.55 and within[-1] > 0.85


def test_a_sigma_that_follows_the_s_n_already_keeps_a_s_n_power_near_zero():
    residual, _, snr = _stars(4000, 3)
    sigma = 2 * (snr[:, None] / 50) ** -0.5  # the method's own sigma is right
    calibration = calibrate_uncertainties(residual, sigma, np.zeros_like(residual), ["x"], "test", snr=snr)
    assert abs(calibration[3, 0]) <= 0.2 and calibration[1, 0] == pytest.approx(1.0, abs=0.3)


def test_small_s_n_bins_join_a_neighbour():
    snr = np.r_[np.full(10, 20.0), np.full(100, 45.0), np.full(100, 80.0), np.full(30, 150.0), np.full(5, 300.0)]
    sizes = [len(b) for b in _snr_bins(snr)]
    assert sizes == [110, 135] and sum(sizes) == len(snr)
    assert [len(b) for b in _snr_bins(np.full(30, 50.0))] == [30]


def test_a_three_row_calibration_has_no_s_n_term_and_a_s_n_term_needs_the_s_n():
    sigma = np.array([[1.0, 2.0], [4.0, np.nan]])
    old = np.array([[2.0, 1.0], [1.0, 1.0], [1.0, 1.0]])  # a model file from before the S/N term
    np.testing.assert_allclose(calibrated(sigma, old), [[2.0, 2.0], [8.0, np.nan]])
    np.testing.assert_array_equal(calibrated(sigma, no_calibration(2)), sigma)
    with_snr = no_calibration(2)
    with_snr[3], with_snr[4] = -1.0, 50.0
    np.testing.assert_allclose(calibrated(sigma, with_snr, np.array([25.0, np.nan])), [[2.0, 4.0], [4.0, np.nan]])
    with pytest.raises(ValueError, match="give each star's snr"):
        calibrated(sigma, with_snr)
