import numpy as np
import pandas as pd
import pytest

from labeltransfer.metrics import (fraction_beyond, label_metrics, robust_scatter, snr_bin_masks, subset_masks,
                                  summarise, widths_within)


def test_label_metrics_match_hand_computed_values():
    ref = np.zeros(7)
    pred = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 30.0])
    sigma = np.full(7, 2.0)
    m = label_metrics(pred, ref, sigma)
    # median 1; |r - 1| = 3 2 1 0 1 2 29 -> MAD 2 -> scatter 2.9652
    assert m["n"] == 7
    assert m["bias"] == 1.0
    assert m["scatter"] == pytest.approx(2.9652)
    assert m["rmse"] == pytest.approx(np.sqrt((4 + 1 + 0 + 1 + 4 + 9 + 900) / 7))
    assert m["outlier_frac"] == pytest.approx(1 / 7)
    assert m["z_width"] == pytest.approx(2.9652 / 2)
    assert m["z_rms"] == pytest.approx(np.sqrt((4 + 1 + 0 + 1 + 4 + 9 + 900) / 7) / 2)


def test_metrics_skip_missing_reference_labels():
    m = label_metrics([1.0, 2.0, np.nan], [1.0, np.nan, 0.0], [1.0, 1.0, 1.0])
    assert m["n"] == 1 and m["bias"] == 0.0


def test_robust_scatter_of_gaussian():
    values = np.random.default_rng(0).normal(0, 3, 200_000)
    assert robust_scatter(values) == pytest.approx(3, rel=0.01)


def test_subsets_and_summary_columns():
    table = pd.DataFrame({"snr": [15, 40, 80, 150], "logg_ref": [2.0, 4.5, 2.5, 4.0],
                          "logg": [2.1, 4.4, 2.5, 4.0], "logg_err": [0.1] * 4})
    masks = subset_masks(table["logg_ref"].to_numpy(), table["snr"].to_numpy(), [10, 50, np.inf])
    assert list(masks) == ["all", "giants", "dwarfs", "snr_10-50", "snr_50-inf"]
    assert masks["giants"].tolist() == [True, False, True, False]
    assert masks["snr_10-50"].tolist() == [True, True, False, False]
    summary = summarise({"m": table}, ["logg"], [10, 50, np.inf])
    assert {"method", "label", "subset", "n", "bias", "scatter", "rmse", "outlier_frac"} <= set(summary.columns)
    assert summary.set_index("subset").loc["giants", "n"] == 2


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
