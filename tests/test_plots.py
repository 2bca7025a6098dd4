"""The figures' axes read as a paper's would."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from labeltransfer.evaluation import plots


def _visible_labels(axis):
    axis.axes.figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    ticks = axis.get_majorticklabels() + axis.get_minorticklabels()
    return [t.get_text() for t in ticks if t.get_text() and low <= t.get_position()[axis.axis_name == "y"] <= high]


def test_a_log_axis_of_little_more_than_a_decade_is_labelled_in_plain_numbers_at_1_2_5():
    fig, ax = plt.subplots()
    ax.set(xscale="log", xlim=(2600, 61000))
    plots.plain_log_ticks(ax.xaxis, "{:,.0f}")
    assert set(_visible_labels(ax.xaxis)) == {"5,000", "10,000", "20,000", "50,000"}
    plt.close(fig)


@pytest.mark.parametrize("limits, expected", [((0.03, 0.25), ["0.1", "0.05", "0.2"]), ((40, 900), ["100", "50", "200", "500"])])
def test_plain_log_ticks_on_scatters(limits, expected):
    fig, ax = plt.subplots()
    ax.set(yscale="log", ylim=limits)
    plots.plain_log_ticks(ax.yaxis)
    assert set(_visible_labels(ax.yaxis)) == set(expected)
    plt.close(fig)


def test_the_costs_figure_labels_its_throughput_without_overlapping_powers_of_ten():
    methods = ["knn", "cannon", "mlp"]
    costs = pd.DataFrame({"method": methods, "train_seconds": [1.5, 19.1, 111.1],
                          "stars_per_second": [12219.0, 2680.0, 60954.0]})
    summary = pd.DataFrame([{"method": m, "label": "teff", "subset": "all", "scatter": s,
                             "scatter_lo68": 0.98 * s, "scatter_hi68": 1.02 * s}
                            for m, s in zip(methods, [133.2, 127.3, 45.5])])
    fig = plots.costs(costs, summary, ["teff"])
    speed_axis = fig.subfigs[0].axes[1].xaxis
    labels = _visible_labels(speed_axis)
    assert labels and all("times" not in text and "^" not in text for text in labels), labels
    assert "10,000" in labels
    plt.close(fig)


def _binned_summary(with_teff=True):
    """A summary table of two methods and two labels in S/N and Teff bins; the last Teff bin too small."""
    subsets = {"all": 900, "snr_10-30": 300, "snr_30-inf": 600}
    if with_teff:
        subsets.update({"teff_3000-4000": 250, "teff_4000-5000": 630, "teff_5000-7000": 20})
    return pd.DataFrame([{"method": m, "label": label, "subset": subset, "n": n,
                          "cover_1": float("nan") if n < 30 else 0.55 + 0.1 * j,
                          "cover_2": float("nan") if n < 30 else 0.90 + 0.03 * j}
                         for j, m in enumerate(["xgboost", "mlp"]) for label in ("teff", "logg")
                         for subset, n in subsets.items()])


def _points(ax):
    """x positions of every errorbar series of ``ax`` (one per method and k)."""
    return [container.lines[0].get_xdata() for container in ax.containers]


def test_the_calibration_per_bin_figure_has_a_row_per_binning_and_leaves_small_bins_out(tmp_path):
    from PIL import Image

    from labeltransfer.pipeline.evaluation import plot_calibration_per_bin

    fig = plots.calibration_per_bin(_binned_summary(), ["teff", "logg"], {1: (0.60, 0.76), 2: (0.92, 0.98)})
    snr_axis, teff_axis = fig.axes[0], fig.axes[2]
    assert [t.get_text() for t in snr_axis.get_xticklabels()] == ["10-30", r"$\geq$30"]
    assert [t.get_text() for t in teff_axis.get_xticklabels()] == ["3000-4000", "4000-5000", "5000-7000"]
    assert teff_axis.get_xlabel() == r"APOGEE DR17 $T_\mathrm{eff}$ [K]" and "[%]" in snr_axis.get_ylabel()
    assert len(_points(snr_axis)) == 4 and all(len(x) == 2 for x in _points(snr_axis))  # 2 methods x (1, 2 sigma)
    assert all(len(x) == 2 and max(x) < 1.5 for x in _points(teff_axis))  # the bin of 20 stars left out
    bars = teff_axis.containers[0].lines[2][0].get_segments()[0]  # xgboost within 1 sigma, 3000-4000 K: 250 stars
    assert bars[1][1] - bars[0][1] == pytest.approx(2 * 100 * (0.55 * 0.45 / 250) ** 0.5)
    plt.close(fig)
    single = plots.calibration_per_bin(_binned_summary(with_teff=False), ["teff", "logg"], {1: (0.6, 0.76)})
    assert len(single.axes) == 2  # no Teff bins: the S/N row alone
    plt.close(single)
    _binned_summary().to_csv(tmp_path / "summary.csv", index=False)
    plot_calibration_per_bin(summary_path=tmp_path / "summary.csv", labels=["teff", "logg"],
                             figure_path=tmp_path / "calibration_per_bin.png")
    with Image.open(tmp_path / "calibration_per_bin.png") as image:
        image.verify()
        assert image.format == "PNG" and min(image.size) > 300
