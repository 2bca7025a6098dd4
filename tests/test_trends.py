"""Residual trends at fixed labels: a bias in the labels is no trend, a dependence at fixed labels is."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.data.sample import build_sample
from labeltransfer.diagnostics.trends import (QUANTITIES, grouped_medians, label_cells, residual_trends,
                                              trend_quantities)
from library_factory import synthetic_stars


def _stars(rng, n, a_k):
    """Reference labels of ``n`` stars within the cells' edges, and the quantities with ``a_k`` as A_K."""
    table = pd.DataFrame({"teff_ref": rng.uniform(4000, 6000, n), "logg_ref": rng.uniform(1.6, 4.1, n),
                          "fe_h_ref": rng.uniform(-0.9, -0.1, n)})
    quantities = pd.DataFrame({name: rng.uniform(-60, 60, n) for name in QUANTITIES}).assign(a_k=a_k(table))
    return table, quantities


def _raw_slope(x, y):
    return np.polyfit(x, y, 1)[0]


def test_a_bias_in_teff_is_no_trend_with_extinction_though_a_raw_slope_is(rng):
    n = 8000
    table, quantities = _stars(rng, n, lambda t: 0.3 * (6000 - t["teff_ref"]) / 2000 + rng.exponential(0.2, n))
    table["teff"] = table["teff_ref"] + 0.1 * (table["teff_ref"] - 5000) + rng.normal(0, 60, n)
    residual = table["teff"] - table["teff_ref"]
    assert _raw_slope(quantities["a_k"], residual) < -100  # K per mag: cool stars are the reddened ones
    trends = residual_trends({"m": table}, quantities, ["teff"], n_resamples=300, seed=1)
    assert not trends["trend"].any()
    assert trends["n_left_out"].eq(0).all() and trends.groupby("quantity")["n"].sum().eq(n).all()
    extinction = trends[trends["quantity"] == "a_k"]
    assert extinction["spread"].iloc[0] < extinction["tolerance"].iloc[0]
    assert ((extinction["median_lo95"] < 0) & (0 < extinction["median_hi95"])).mean() >= 5 / 7


def test_a_dependence_on_extinction_at_fixed_labels_is_found_with_its_size(rng):
    n = 8000
    table, quantities = _stars(rng, n, lambda t: rng.uniform(0, 1, n))
    table["teff"] = table["teff_ref"] + 0.1 * (table["teff_ref"] - 5000) + 80 * quantities["a_k"] + rng.normal(0, 60, n)
    trends = residual_trends({"m": table}, quantities, ["teff"], n_resamples=300, seed=1).set_index("quantity")
    extinction = trends.loc["a_k"]
    assert len(extinction) == 7 and extinction["n"].sum() == n
    np.testing.assert_allclose(extinction["median"], 80 * (extinction["centre"] - 0.5), atol=8)  # K
    assert extinction["trend"].all() and abs(extinction["departure"].iloc[0]) == pytest.approx(80 * 0.43, abs=8)
    assert not trends.loc["g_mag", "trend"].any()


def test_the_bootstrap_is_seeded(rng):
    table, quantities = _stars(rng, 600, lambda t: rng.uniform(0, 1, 600))
    table["teff"] = table["teff_ref"] + rng.normal(0, 60, 600)
    first, again, other = (residual_trends({"m": table}, quantities, ["teff"], n_resamples=100, seed=s)
                           for s in (3, 3, 4))
    pd.testing.assert_frame_equal(first, again)
    np.testing.assert_array_equal(first["median"], other["median"])
    assert not np.allclose(first["median_lo95"], other["median_lo95"], equal_nan=True)


def test_a_method_s_intervals_do_not_depend_on_the_other_methods_of_the_run(rng):
    table, quantities = _stars(rng, 600, lambda t: rng.uniform(0, 1, 600))
    table["teff"] = table["teff_ref"] + rng.normal(0, 60, 600)
    other = table.assign(teff=table["teff_ref"] + rng.normal(0, 90, 600))
    alone = residual_trends({"m": table}, quantities, ["teff"], n_resamples=100, seed=3)
    beside = residual_trends({"other": other, "m": table}, quantities, ["teff"], n_resamples=100, seed=3)
    pd.testing.assert_frame_equal(alone, beside[beside["method"] == "m"].reset_index(drop=True))


def test_a_quantity_without_two_distinct_values_has_no_bins(rng):
    table, quantities = _stars(rng, 600, lambda t: np.full(600, np.nan))
    table["teff"] = table["teff_ref"] + rng.normal(0, 60, 600)
    trends = residual_trends({"m": table}, quantities.assign(g_mag=15.0), ["teff"], n_resamples=50, seed=3)
    assert set(trends["quantity"]) == {"gal_l", "gal_b"}


def test_stars_of_small_cells_or_without_a_label_are_left_out_and_counted(rng):
    n = 1000
    table, quantities = _stars(rng, n, lambda t: rng.uniform(0, 1, n))
    table.loc[:4, "teff_ref"] = 3200.0  # five stars alone in their cells
    table.loc[5:7, "fe_h_ref"] = np.nan
    table["teff"] = table["teff_ref"] + rng.normal(0, 60, n)
    edges = {"teff": (3000, 3500, 5000, 7000), "logg": (-0.5, 2.5, 5.5), "fe_h": (-2.5, 0.7)}
    trends = residual_trends({"m": table}, quantities, ["teff"], edges, n_resamples=50, seed=1, min_stars=40)
    assert trends["n_left_out"].eq(8).all() and trends.groupby("quantity")["n"].sum().eq(n - 8).all()
    small = trends["n"] < 40  # among them the Galactic l bins beyond +-60 deg
    assert trends.loc[small, "median"].isna().all() and trends.loc[~small, "median"].notna().all()
    measured = trends.loc[~small, "quantity"].value_counts()
    assert (measured["a_k"], measured["g_mag"], measured["gal_l"]) == (7, 7, 4)


def test_the_figure_has_a_row_per_label_and_a_column_per_quantity(rng):
    import matplotlib.pyplot as plt

    from labeltransfer.diagnostics.plots import residual_trends as figure

    table, quantities = _stars(rng, 800, lambda t: rng.uniform(0, 1, 800))
    table["teff"], table["logg"] = table["teff_ref"] + rng.normal(0, 60, 800), table["logg_ref"] + 0.1
    trends = residual_trends({"a": table, "b": table}, quantities, ["teff", "logg"], n_resamples=20, seed=1)
    fig = figure(trends, ["a", "b"], ["teff", "logg"], QUANTITIES)
    axes = np.reshape(fig.axes, (2, 4))
    assert [ax.get_xlabel() for ax in axes[-1]] == list(QUANTITIES.values())
    assert "[K]" in axes[0, 0].get_ylabel() and "[dex]" in axes[1, 0].get_ylabel()
    assert [t.get_text() for t in fig.legends[0].get_texts()][:2] == ["a", "b"]
    plt.close(fig)


def test_label_cells_number_the_grid_and_mark_stars_outside_it():
    references = pd.DataFrame({"teff_ref": [3100, 3100, 6900, 8000], "logg_ref": [0, 5, 5, 3], "fe_h_ref": [-2, -2, 0.5, 0]})
    edges = {"teff": (3000, 5000, 7000), "logg": (-0.5, 2, 5.5), "fe_h": (-2.5, 0, 0.7)}
    np.testing.assert_array_equal(label_cells(references, edges), [0, 2, 7, -1])


def test_grouped_medians_match_pandas_row_by_row(rng):
    values, groups = rng.normal(0, 100, (3, 200)), rng.integers(-1, 6, (3, 200))
    medians = grouped_medians(values, groups, 7)  # group 6 is empty
    for row in range(3):
        expected = pd.Series(values[row]).groupby(groups[row]).median().reindex(range(7)).to_numpy()
        np.testing.assert_allclose(medians[row], expected, atol=1e-9)


def test_galactic_coordinates_of_the_centre_and_the_pole():
    sample = build_sample(synthetic_stars(40, seed=1), {"teff": {"range": [3000, 7000], "max_err": 300,
                                                                 "err_floor": 10, "required": True}},
                          {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    sample.ra[:2], sample.dec[:2] = [266.405, 192.8595], [-28.936, 27.1283]  # Sgr A*, the north Galactic pole
    quantities = trend_quantities(sample, sample.apogee_id[:2])
    assert abs(quantities["gal_l"][0]) < 0.1 and abs(quantities["gal_b"][0]) < 0.1
    assert quantities["gal_b"][1] == pytest.approx(90.0, abs=0.01)
    np.testing.assert_array_equal(quantities["g_mag"], sample.g_mag[:2])
