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
