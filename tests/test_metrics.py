import numpy as np
import pandas as pd
import pytest

from labeltransfer.evaluation.summary import bootstrap_scatter_bias, summarise
from labeltransfer.evaluation.metrics import (fraction_beyond, label_metrics, robust_scatter, snr_bin_masks, subset_masks,
                                  widths_within)


def test_label_metrics_match_hand_computed_values():
    ref = np.zeros(7)
    pred = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 30.0])
    sigma = np.full(7, 2.0)
    m = label_metrics(pred, ref, sigma, min_stars=1)
    # median 1; |r - 1| = 3 2 1 0 1 2 29 -> MAD 2 -> scatter 2.9652
    assert m["n"] == 7
    assert m["bias"] == 1.0
    assert m["scatter"] == pytest.approx(2.9652)
    assert m["rmse"] == pytest.approx(np.sqrt((4 + 1 + 0 + 1 + 4 + 9 + 900) / 7))
    assert m["outlier_frac"] == pytest.approx(1 / 7)
    assert m["z_width"] == pytest.approx(2.9652 / 2)
    assert m["z_rms"] == pytest.approx(np.sqrt((4 + 1 + 0 + 1 + 4 + 9 + 900) / 7) / 2)
    # |r| / sigma = 1 0.5 0 0.5 1 1.5 15: within 1 sigma 3, within 2 sigma 6, within 3 sigma 6 of 7
    assert (m["cover_1"], m["cover_2"], m["cover_3"]) == pytest.approx((3 / 7, 6 / 7, 6 / 7))


def test_metrics_skip_missing_reference_labels():
    m = label_metrics([1.0, 2.0, np.nan], [1.0, np.nan, 0.0], [1.0, 1.0, 1.0], min_stars=1)
    assert m["n"] == 1 and m["bias"] == 0.0


def test_small_subsets_are_reported_as_too_small_with_their_count():
    m = label_metrics(np.ones(29), np.zeros(29), np.ones(29))
    assert m["n"] == 29 and np.isnan(m["scatter"]) and np.isnan(m["cover_1"])
    assert np.isfinite(label_metrics(np.ones(30), np.zeros(30), np.ones(30))["scatter"])


def test_stars_without_a_usable_sigma_are_counted_and_never_covered():
    resid = np.tile([0.1, -0.1], 20)
    sigma = np.ones(40)
    sigma[:4] = [0.0, np.nan, -1.0, np.inf]
    m = label_metrics(resid, np.zeros(40), sigma)
    assert m["n"] == 40 and m["n_bad_sigma"] == 4
    assert m["cover_1"] == pytest.approx(36 / 40)  # not dropped: counted as outside


def test_sigma_with_the_reference_error_removed():
    sigma, reference_err = np.full(40, 0.05), np.full(40, 0.03)
    m = label_metrics(np.zeros(40), np.zeros(40), sigma, reference_err)
    assert m["sigma_median"] == pytest.approx(0.05) and m["sigma_star_median"] == pytest.approx(0.04)


def test_robust_scatter_of_gaussian():
    values = np.random.default_rng(0).normal(0, 3, 200_000)
    assert robust_scatter(values) == pytest.approx(3, rel=0.01)


def test_subsets_and_summary_columns():
    rng = np.random.default_rng(2)
    snr = rng.uniform(10, 200, 400)
    logg_ref = np.where(np.arange(400) % 2 == 0, 2.0, 4.5)
    table = pd.DataFrame({"apogee_id": [f"s{i}" for i in range(400)], "snr": snr, "logg_ref": logg_ref,
                          "logg": logg_ref + rng.normal(0, 0.1, 400), "logg_err": 0.1, "logg_ref_err": 0.03})
    parallax = np.arange(400) < 100
    masks = subset_masks(logg_ref, snr, [10, 50, np.inf], parallax)
    assert list(masks) == ["all", "giants", "dwarfs", "snr_10-50", "snr_50-inf", "with_parallax", "without_parallax"]
    assert masks["giants"].sum() == 200 and masks["with_parallax"].sum() == 100
    summary, comparison = summarise({"m": table, "copy": table}, ["logg"], [10, 50, np.inf], has_parallax=parallax)
    row = summary.set_index(["method", "subset"]).loc[("m", "giants")]
    assert row["n"] == 200 and row["scatter_lo95"] < row["scatter_lo68"] < row["scatter"] < row["scatter_hi68"]
    assert {"cover_1", "cover_2", "cover_3", "n_bad_sigma", "bias_lo68", "sigma_star_median"} <= set(summary.columns)
    assert set(comparison["subset"]) == {"all", "giants", "dwarfs"}
    assert (comparison["difference"] == 0).all() and (comparison["verdict"] == "tie").all()


def test_bootstrap_interval_matches_the_spread_of_independent_draws():
    rng = np.random.default_rng(5)
    draws = [robust_scatter(rng.normal(0, 1, 2000)) for _ in range(400)]
    resampled, bias = bootstrap_scatter_bias(rng.normal(0, 1, (2000, 1)), 1000, rng)
    assert np.std(resampled) == pytest.approx(np.std(draws), rel=0.2)
    assert np.std(bias) == pytest.approx(1.2533 / np.sqrt(2000), rel=0.2)  # the median's sampling error


def test_paired_difference_tells_a_real_gap_from_a_tie():
    rng = np.random.default_rng(6)
    n = 3000
    base = pd.DataFrame({"apogee_id": np.arange(n).astype(str), "snr": 100.0, "logg_ref": np.zeros(n), "logg_err": 1.0})
    noise = rng.normal(0, 0.1, n)
    predictions = {"sharp": base.assign(logg=noise), "same": base.assign(logg=noise + rng.normal(0, 0.003, n)),
                   "blurred": base.assign(logg=1.1 * noise + rng.normal(0, 0.03, n))}
    _, comparison = summarise(predictions, ["logg"], [10, np.inf])
    verdict = comparison[comparison["subset"] == "all"].set_index(["method_a", "method_b"])["verdict"]
    assert verdict[("sharp", "same")] == "tie"
    assert verdict[("sharp", "blurred")] == "sharp better" and verdict[("same", "blurred")] == "same better"


def test_predictions_of_other_stars_are_refused():
    table = pd.DataFrame({"apogee_id": ["a", "b"], "snr": 50.0, "logg_ref": 2.0, "logg": 2.0, "logg_err": 0.1})
    with pytest.raises(ValueError, match="predictions of y and x are not of the same test stars"):
        summarise({"x": table, "y": table.iloc[::-1]}, ["logg"], [10, np.inf])


def test_fraction_beyond_counts_only_finite_values_per_column():
    z = np.array([[0.5, np.nan], [4.0, -5.0], [-3.5, 0.1], [1.0, np.nan]])
    assert fraction_beyond(z) == [0.5, 0.5]
    assert fraction_beyond(z, k=4.5) == [0.0, 0.5]
    assert np.isnan(fraction_beyond(np.full((3, 1), np.nan))[0])


def test_snr_bins_are_half_open_and_named_by_their_edges():
    masks = snr_bin_masks(np.array([10.0, 29.9, 30.0, 500.0]), [10, 30, np.inf])
    assert list(masks) == ["snr_10-30", "snr_30-inf"]
    np.testing.assert_array_equal(masks["snr_10-30"], [True, True, False, False])
    np.testing.assert_array_equal(masks["snr_30-inf"], [False, False, True, True])


def test_widths_within_each_subset_per_column_ignoring_nan():
    rng = np.random.default_rng(3)
    z = np.column_stack([rng.normal(0, 1, 4000), rng.normal(0, 2, 4000)])
    z[::2, 1] = np.nan
    masks = {"first half": np.arange(4000) < 2000, "none": np.zeros(4000, bool)}
    widths = widths_within(z, masks)
    assert list(widths) == ["first half", "none"]
    assert widths["first half"] == pytest.approx([1.0, 2.0], rel=0.1)
    assert widths["first half"][0] == robust_scatter(z[:2000, 0])
    assert np.isnan(widths["none"]).all()


def _coverage(residual, sigma):
    z = np.abs(residual / sigma)
    return np.mean(z < 1), np.mean(z < 2)


def test_calibration_puts_gaussian_coverage_at_68_and_95_percent():
    from labeltransfer.methods.calibration import calibrate_uncertainties, calibrated

    rng = np.random.default_rng(8)
    residual = rng.normal(0, 3.0, (20000, 1))
    calibration = calibrate_uncertainties(residual, np.ones_like(residual), np.zeros_like(residual), ["x"], "test")
    sigma = calibrated(np.ones_like(residual), calibration)
    assert sigma[0, 0] == pytest.approx(3.0 * 1.96 / 2, rel=0.02)  # 95.0% within 2 sigma: the middle of 92-98%
    within_1, within_2 = _coverage(residual, sigma)
    assert within_1 == pytest.approx(0.683, abs=0.02) and within_2 == pytest.approx(0.954, abs=0.01)


def test_calibration_of_heavy_tails_trades_the_two_windows():
    from labeltransfer.methods.calibration import calibrate_uncertainties, calibrated

    heavy = np.random.default_rng(9).standard_t(2.5, (20000, 1))  # both windows can be met
    ones = np.ones_like(heavy)
    sigma = calibrated(ones, calibrate_uncertainties(heavy, ones, np.zeros_like(heavy), ["x"], "test"))
    assert sigma[0, 0] > np.quantile(np.abs(heavy), 0.683)  # wider than the core alone would make it
    within_1, within_2 = _coverage(heavy, sigma)
    assert 0.60 < within_1 < 0.76 and 0.92 < within_2 < 0.98
    heavier = np.random.default_rng(9).standard_t(1.5, (20000, 1))  # they cannot: both missed, by as much
    sigma = calibrated(ones, calibrate_uncertainties(heavier, ones, np.zeros_like(heavier), ["x"], "test"))
    within_1, within_2 = _coverage(heavier, sigma)
    assert within_1 > 0.76 and within_2 < 0.92
    few = np.ones((10, 1))
    np.testing.assert_array_equal(calibrate_uncertainties(few, few, np.zeros_like(few), ["x"], "test"),
                                  np.ones((3, 1)))


def test_calibration_power_follows_how_well_sigma_ranks_the_errors():
    """Errors whose true width grows as sigma squared call for power 2; a sigma unrelated to the
    errors (a method that ranks its stars no better than chance) for power 0, one width for all.
    With power 1 only, both leave residual / sigma too heavy-tailed for the windows."""
    from labeltransfer.methods.calibration import calibrate_uncertainties, calibrated

    rng = np.random.default_rng(10)
    sigma = np.exp(rng.uniform(-1.5, 1.5, (20000, 1)))
    cases = {2.0: rng.normal(0, 1, sigma.shape) * sigma ** 2,
             0.0: rng.normal(0, 1, sigma.shape) * np.exp(rng.uniform(-0.5, 0.5, sigma.shape))}
    for power, residual in cases.items():
        calibration = calibrate_uncertainties(residual, sigma, np.zeros_like(residual), ["x"], "test")
        assert calibration[1, 0] == pytest.approx(power, abs=0.25)
        assert calibration[2, 0] == pytest.approx(np.median(sigma))
        within_1, within_2 = _coverage(residual, calibrated(sigma, calibration))
        assert 0.60 < within_1 < 0.76 and 0.92 < within_2 < 0.98
    for residual in cases.values():  # the scale alone
        calibration = calibrate_uncertainties(residual, sigma, np.zeros_like(residual), ["x"], "test", powers=(1.0,))
        within_1, within_2 = _coverage(residual, calibrated(sigma, calibration))
        assert within_1 > 0.76 or within_2 < 0.92


def test_calibration_keeps_missing_and_zero_sigma_as_they_are():
    from labeltransfer.methods.calibration import calibrated

    sigma = np.array([[np.nan], [0.0], [2.0]])
    out = calibrated(sigma, np.array([[1.5], [0.0], [1.0]]))  # power 0: one width for every usable star
    assert np.isnan(out[0, 0]) and out[1, 0] == 0.0 and out[2, 0] == 1.5


def test_a_method_gains_nothing_by_leaving_its_hardest_stars_out():
    rng = np.random.default_rng(10)
    n = 2000
    table = pd.DataFrame({"apogee_id": np.arange(n).astype(str), "snr": 100.0, "logg_ref": np.zeros(n),
                          "logg_err": 0.1, "logg": rng.normal(0, 0.1, n)})
    shy = table.assign(logg=table["logg"].where(table["logg"].abs() < 0.15))  # no prediction where it is bad
    summary, comparison = summarise({"shy": shy, "full": table}, ["logg"], [10, np.inf])
    row = comparison[comparison["subset"] == "all"].iloc[0]
    assert row["n"] == shy["logg"].notna().sum() and row["difference"] == 0 and row["verdict"] == "tie"
    own = summary.set_index(["method", "subset"]).loc[("shy", "all")]
    assert own["n"] == row["n"] and own["scatter"] < 0.1  # its own summary shows it on its own stars
