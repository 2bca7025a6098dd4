import hashlib

import numpy as np
import pandas as pd
import pytest

from labeltransfer.evaluation.summary import (CURVE_COLUMNS, Resamples, bootstrap_scatter_bias, curve_metrics,
                                              method_metrics, paired_difference, summarise)
from labeltransfer.evaluation.metrics import (fraction_beyond, gaussian_crps, gaussian_nll, giant_dwarf_masks,
                                              label_metrics, robust_scatter, snr_bin_masks, subset_masks,
                                              teff_bin_masks, widths_within)


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


def test_nll_of_honest_gaussian_sigmas_and_its_minimum_at_the_true_sigma():
    residual = np.random.default_rng(40).normal(0, 0.2, 20000)
    nll = {scale: label_metrics(residual, np.zeros_like(residual), np.full_like(residual, 0.2 * scale))["nll"]
           for scale in (0.5, 1.0, 2.0)}
    assert nll[1.0] == pytest.approx(0.5 * np.log(2 * np.pi * 0.2 ** 2) + 0.5, abs=0.015)  # sampling error 0.005
    # a sigma too small costs more than one too large: + 1.5 - ln 2 against + ln 2 - 0.375 nats
    assert nll[0.5] - nll[1.0] == pytest.approx(1.5 - np.log(2), abs=0.05)
    assert nll[2.0] - nll[1.0] == pytest.approx(np.log(2) - 0.375, abs=0.02)
    assert gaussian_nll([0.0, 3.0], [1.0, 2.0]) == pytest.approx([0.5 * np.log(2 * np.pi),
                                                                 0.5 * np.log(8 * np.pi) + 9 / 8])


@pytest.mark.parametrize("residual, sigma", [(0.0, 1.0), (0.3, 0.2), (-2.5, 1.5), (150.0, 40.0)])
def test_crps_matches_the_integral_of_the_squared_difference_of_the_cdfs(residual, sigma):
    from scipy import integrate, stats

    # CRPS = integral over x of (F(x) - 1[x >= reference])^2, F the predicted N(residual, sigma^2), reference 0
    below = integrate.quad(lambda x: stats.norm.cdf(x, residual, sigma) ** 2, -np.inf, 0)[0]
    above = integrate.quad(lambda x: stats.norm.sf(x, residual, sigma) ** 2, 0, np.inf)[0]
    assert gaussian_crps(residual, sigma) == pytest.approx(below + above, rel=1e-6)


def test_crps_of_honest_sigmas_and_of_a_vanishing_sigma():
    residual = np.random.default_rng(41).normal(0, 50.0, 20000)
    m = label_metrics(residual, np.zeros_like(residual), np.full_like(residual, 50.0))
    # E|X - y| - E|X - X'| / 2 with X, X', y independent N(0, sigma^2): 2 sigma / sqrt(pi) - sigma / sqrt(pi)
    assert m["crps"] == pytest.approx(50.0 / np.sqrt(np.pi), rel=0.02)
    assert gaussian_crps(residual[:5], 1e-9) == pytest.approx(np.abs(residual[:5]))  # a point forecast: |r|


def test_nll_and_crps_leave_stars_without_a_usable_sigma_out():
    rng = np.random.default_rng(42)
    residual, sigma = rng.normal(0, 1, 60), rng.uniform(0.5, 1.5, 60)
    sigma[:5] = [0.0, np.nan, -1.0, np.inf, 0.0]
    m = label_metrics(residual, np.zeros(60), sigma)
    assert m["n_bad_sigma"] == 5
    assert m["nll"] == pytest.approx(np.mean(gaussian_nll(residual[5:], sigma[5:])))
    assert m["crps"] == pytest.approx(np.mean(gaussian_crps(residual[5:], sigma[5:])))
    assert np.isnan(label_metrics(residual, np.zeros(60), np.full(60, np.nan))["nll"])


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


def test_teff_bins_are_half_open_named_by_their_edges_and_come_after_the_other_subsets():
    teff = np.array([3999.0, 4000.0, 4499.9, 6000.0, np.nan, 2500.0])
    masks = teff_bin_masks(teff, [3000, 4000, 4500, 6000])
    assert list(masks) == ["teff_3000-4000", "teff_4000-4500", "teff_4500-6000"]
    np.testing.assert_array_equal(np.column_stack(list(masks.values())),
                                  [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    everything = subset_masks(np.full(6, 2.0), np.full(6, 50.0), [10, np.inf], np.ones(6, bool), teff_reference=teff,
                              teff_bins=[3000, 4000, 4500, 6000])
    assert list(everything) == ["all", "giants", "dwarfs", "snr_10-inf", "with_parallax", "without_parallax",
                                "teff_3000-4000", "teff_4000-4500", "teff_4500-6000"]
    with pytest.raises(ValueError, match=r"teff_bins must increase, got \[3000, 5000, 4500\]"):
        teff_bin_masks(teff, [3000, 5000, 4500])
    with pytest.raises(ValueError, match="without the reference Teff"):
        subset_masks(np.full(6, 2.0), np.full(6, 50.0), [10, np.inf], teff_bins=[3000, 4000])


def test_coverage_nll_and_crps_per_bin_find_the_bins_whose_sigma_is_too_small():
    """Sigma right at S/N 50-200 and for the warm stars; half the true width at S/N 10-50 and for the
    cool stars: 68% against 38% within 1 sigma, in the S/N and the Teff bins alike."""
    rng = np.random.default_rng(43)
    n = 8000
    snr = np.where(np.arange(n) < n // 2, 20.0, 100.0)
    teff = np.where(snr < 50, rng.uniform(3500, 4500, n), rng.uniform(5000, 6000, n))
    residual = rng.normal(0, 100.0, n)
    table = pd.DataFrame({"apogee_id": np.arange(n).astype(str), "snr": snr, "logg_ref": 2.0, "teff_ref": teff,
                          "teff": teff + residual, "teff_err": np.where(snr < 50, 50.0, 100.0)})
    summary, _ = summarise({"m": table}, ["teff"], [10, 50, 200], teff_bins=[3500, 4500, 5000, 6000],
                           n_resamples=20)
    rows = summary.set_index("subset")
    expected = {1: (0.683, 0.383), 2: (0.954, 0.683), 3: (0.997, 0.866)}  # P(|z| < k) and P(|z| < k / 2)
    for k, (honest, too_small) in expected.items():
        for right, wrong in (("snr_50-200", "snr_10-50"), ("teff_5000-6000", "teff_3500-4500")):
            assert rows.loc[right, f"cover_{k}"] == pytest.approx(honest, abs=0.02)
            assert rows.loc[wrong, f"cover_{k}"] == pytest.approx(too_small, abs=0.02)
    assert rows.loc["teff_4500-5000", "n"] == 0 and np.isnan(rows.loc["teff_4500-5000", "cover_1"])
    # NLL: ln(sigma) + 0.5 ln(2 pi) + 0.5 (r / sigma)^2, with E[(r / sigma)^2] = 1 and 4
    assert rows.loc["snr_50-200", "nll"] == pytest.approx(np.log(100) + 0.5 * np.log(2 * np.pi) + 0.5, abs=0.03)
    assert rows.loc["snr_10-50", "nll"] == pytest.approx(np.log(50) + 0.5 * np.log(2 * np.pi) + 2, abs=0.1)
    assert rows.loc["snr_10-50", "crps"] > rows.loc["snr_50-200", "crps"]  # the same errors, a worse forecast


def test_teff_bins_need_the_reference_teff():
    table = pd.DataFrame({"apogee_id": ["a", "b"], "snr": 50.0, "logg_ref": 2.0, "logg": 2.0, "logg_err": 0.1})
    with pytest.raises(ValueError, match="have no teff_ref column"):
        summarise({"x": table}, ["logg"], [10, np.inf], teff_bins=[4000, 5000])


def test_the_markdown_summary_lists_the_coverage_per_snr_bin_and_marks_it_outside_the_window():
    from labeltransfer.pipeline.evaluation import _coverage_per_snr_bin

    summary = pd.DataFrame([{"method": m, "label": label, "subset": subset, "n": n, "cover_1": cover}
                            for m, label, subset, n, cover in [
                                ("mlp", "teff", "all", 900, 0.70), ("mlp", "teff", "snr_10-30", 300, 0.54),
                                ("mlp", "teff", "snr_30-inf", 580, 0.683), ("mlp", "teff", "teff_4000-5000", 12, np.nan),
                                ("mlp", "logg", "all", 900, 0.70), ("mlp", "logg", "snr_10-30", 20, np.nan),
                                ("mlp", "logg", "snr_30-inf", 580, 0.77)]])
    lines = _coverage_per_snr_bin(summary, ["teff", "logg"])
    assert lines[0] == "## Coverage per S/N bin"
    assert "| 10-30 | mlp | **54%** (N=300) | too small (N=20) |" in lines
    assert "| 30+ | mlp | 68% (N=580) | **77%** (N=580) |" in lines
    assert not any("4000" in line for line in lines)


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
    from labeltransfer.methods.calibration import calibrate_uncertainties, calibrated, no_calibration

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
                                  no_calibration(1))


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


# The one path of the comparison and the diagnostics, against the tables of the code it replaced:
# the digests and values below were recorded from that code (summarise before it was built on
# Resamples; curve_metrics and _paired_difference of pipeline/diagnostic_summaries.py, 500
# resamples) on these inputs, before anything was changed.

def _digest(table):
    """SHA-256 of a table as the workflow writes it (``to_csv(index=False)``): equal digests, equal bytes."""
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()


def _comparison_predictions():
    """Three methods' predictions of the same 240 test stars: b leaves some stars out, c has missing
    and zero sigmas, a few stars have no reference Teff, and the S/N bin 5-20 holds fewer than 30 stars."""
    rng = np.random.default_rng(31)
    n = 240
    logg, teff = rng.uniform(0.5, 5.0, n), rng.normal(5000, 600, n)
    stars = pd.DataFrame({"apogee_id": [f"s{i}" for i in range(n)], "snr": rng.uniform(5, 150, n),
                          "logg_ref": logg, "logg_ref_err": rng.uniform(0.01, 0.05, n),
                          "teff_ref": np.where(rng.random(n) < 0.05, np.nan, teff)})
    predictions = {method: stars.assign(logg=logg + 0.1 * width * rng.standard_t(4, n), logg_err=0.1 * width,
                                        teff=teff + rng.normal(0, 80 * width, n), teff_err=rng.uniform(50, 120, n))
                   for method, width in (("a", 1.0), ("b", 1.3), ("c", 1.05))}
    predictions["b"].loc[rng.random(n) < 0.1, ["logg", "teff"]] = np.nan
    predictions["c"].loc[:9, "teff_err"] = [np.nan, 0.0] * 5
    return predictions, rng.random(n) < 0.6


def _curve_predictions(by, values):
    """Two methods' predictions of the same 95 test stars at each value of ``by``: some predictions
    missing, some sigmas missing or zero, about 30 dwarfs (some subsets too few)."""
    rng = np.random.default_rng(32)
    n = 95
    logg, teff = rng.uniform(0.5, 5.0, n), rng.normal(5000, 600, n)
    tables = {}
    for method, width in (("a", 1.0), ("b", 1.4)):
        parts = []
        for k, value in enumerate(values):
            scale = width * (1 + k)
            part = pd.DataFrame({by: value, "apogee_id": [f"s{i}" for i in range(n)], "logg_ref": logg,
                                 "teff_ref": teff, "logg": logg + 0.1 * scale * rng.standard_t(4, n),
                                 "logg_err": 0.1 * scale, "teff": teff + rng.normal(0, 80 * scale, n),
                                 "teff_err": rng.uniform(50, 120, n) * scale})
            part.loc[rng.random(n) < 0.1, ["logg", "teff"]] = np.nan
            part.loc[rng.random(n) < 0.1, "teff_err"] = np.nan
            part.loc[rng.random(n) < 0.05, "logg_err"] = 0.0
            parts.append(part)
        tables[method] = pd.concat(parts, ignore_index=True)
    return tables


def _residual_pairs():
    """Pairs of residual columns with missing values, the last with fewer than 30 stars both have."""
    rng = np.random.default_rng(33)
    pairs = []
    for n, widths in ((120, (1.0, 1.0)), (200, (1.5, 1.0)), (60, (1.0, 1.2)), (40, (1.0, 1.0))):
        pair = rng.normal(0, 1, (n, 2)) * widths
        pair[rng.random((n, 2)) < 0.15] = np.nan
        pairs.append(pair)
    return pairs


def test_summarise_reproduces_the_recorded_summary_and_comparison():
    """The Teff subsets (issue 33) and the columns nll and crps were added after the recording: the
    recorded rows and columns must come out byte for byte as they were."""
    predictions, has_parallax = _comparison_predictions()
    summary, comparison = summarise(predictions, ["logg", "teff"], [5, 20, 60, np.inf], has_parallax=has_parallax,
                                    teff_bins=[4000, 5000, 6000], seed=4)
    recorded = summary.loc[~summary["subset"].str.startswith("teff_"), summary.columns.drop(["nll", "crps"])]
    assert _digest(recorded) == "8d3f82e3a2bc79e32b179a7a1337dc69aa984e227c13f1fab2a689b9bb8fb789"
    assert set(summary["subset"]) - set(recorded["subset"]) == {"teff_4000-5000", "teff_5000-6000"}
    assert _digest(comparison) == "3000c74b66d687da7caa92eaad001718298642454ec9a730e59fb1e9ba6c9a38"
    assert comparison.iloc[0]["difference_lo95"] == -0.07505635997330769  # logg, all, a - b (stars b left out)


def test_curve_metrics_reproduce_the_recorded_diagnostic_table():
    table = curve_metrics(_curve_predictions("level", [100, 20, 5]), ["teff", "logg"], "level", 500, 7)
    assert _digest(table) == "6aaedc01a0da573adc176282cf0ce14b9a261bdbca6eb8387658b58e3bdf71ab"
    assert list(table.columns) == ["method", "level", "subset", "label", *CURVE_COLUMNS]
    dwarfs = table[table["subset"] == "dwarfs"]
    assert dwarfs["scatter"].isna().any() and dwarfs["scatter"].notna().any()  # both sides of 30 stars


def test_paired_difference_reproduces_the_recorded_band_differences():
    rng = np.random.default_rng(9)  # one generator drawn on pair after pair, as the wavelength table does
    recorded = [(0.2518276878384016, -0.28881459677115084, 0.5964335887809096),
                (0.25376742854262035, -0.20908395051956175, 0.6002861350774765),
                (-0.23047338758296954, -0.9119357168674469, 0.4199285238981239)]
    pairs = [paired_difference(Resamples(pair, 500, rng), 0, 1) for pair in _residual_pairs()]
    assert [(p["difference"], p["difference_lo95"], p["difference_hi95"]) for p in pairs[:3]] == recorded
    assert pairs[3]["n"] < 30 and np.isnan([pairs[3]["difference"], pairs[3]["difference_lo95"]]).all()


def test_a_seed_starts_each_draw_afresh_and_a_generator_is_drawn_on():
    residual = np.random.default_rng(11).normal(0, 1, (100, 2))
    residual[:10, 1] = np.nan  # column 0 alone has more stars than both together: drawn again
    seeded = Resamples(residual, 50, [3, 0, 0])
    np.testing.assert_array_equal(seeded.of([0])[0], Resamples(residual[:, :1], 50, [3, 0, 0]).of([0])[0])
    np.testing.assert_array_equal(seeded.of([1])[0], Resamples(residual[:, 1:], 50, [3, 0, 0]).of([0])[0])
    rng = np.random.default_rng(3)
    first, second = (Resamples(residual[:, :1], 50, rng).of([0])[0] for _ in range(2))
    assert not np.array_equal(first, second)


def test_method_metrics_are_the_label_metrics_of_the_subset_with_their_intervals():
    rng = np.random.default_rng(12)
    residual, sigma = rng.normal(0, 0.2, (300, 1)), rng.uniform(0.1, 0.3, 300)
    residual[::7] = np.nan
    subset = np.arange(300) < 200
    metrics = method_metrics(Resamples(residual, 200, 0, subset=subset), 0, sigma)
    kept = subset & np.isfinite(residual[:, 0])
    point = label_metrics(residual[kept, 0], np.zeros(kept.sum()), sigma[kept])
    np.testing.assert_equal({k: metrics[k] for k in point}, point)  # NaN where label_metrics has NaN
    assert (metrics["scatter_lo95"] < metrics["scatter_lo68"] < metrics["scatter"] < metrics["scatter_hi68"]
            < metrics["scatter_hi95"])


def test_fewer_stars_than_min_stars_are_not_drawn():
    residual = np.random.default_rng(13).normal(0, 1, (12, 2))
    rng = np.random.default_rng(0)
    too_few = paired_difference(Resamples(residual, 100, rng), 0, 1)
    assert too_few["n"] == 12 and np.isnan(too_few["difference_lo95"])
    assert rng.integers(1 << 30) == np.random.default_rng(0).integers(1 << 30)  # nothing drawn
    enough = paired_difference(Resamples(residual, 100, rng, min_stars=1), 0, 1)
    assert enough["difference_lo95"] <= enough["difference"] <= enough["difference_hi95"]


def test_stars_without_a_reference_logg_are_neither_giants_nor_dwarfs():
    masks = giant_dwarf_masks(np.array([2.0, 3.5, np.nan]))
    assert list(masks) == ["all", "giants", "dwarfs"]
    np.testing.assert_array_equal(np.column_stack(list(masks.values())), [[1, 1, 0], [1, 0, 1], [1, 0, 0]])
