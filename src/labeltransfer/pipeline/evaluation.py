"""Workflow steps that evaluate the methods and draw the figures."""


import pandas as pd

from .. import plots
from ..metrics import summarise
from ._json import read_json

__all__ = ["evaluate_methods", "plot_one_to_one", "plot_loss_curve", "plot_comparison"]


def evaluate_methods(methods, prediction_paths, fit_paths, predict_paths, labels, snr_bins,
                     summary_path, table_path, costs_path):
    """The summary table (CSV and Markdown) and the cost table of every method."""
    predictions = {m: pd.read_csv(p) for m, p in zip(methods, prediction_paths)}
    summary = summarise(predictions, labels, snr_bins)
    summary.to_csv(summary_path, index=False)
    costs = []
    for method, fit_path, predict_path in zip(methods, fit_paths, predict_paths):
        fit, pred = read_json(fit_path), read_json(predict_path)
        costs.append({"method": method, "n_train": fit["n_stars"], "train_seconds": fit["seconds"],
                      "n_predict": pred["n_stars"], "predict_seconds": pred["seconds"],
                      "stars_per_second": pred["stars_per_second"], "threads": pred["threads"]})
    costs = pd.DataFrame(costs)
    costs.to_csv(costs_path, index=False)
    with open(table_path, "w") as handle:
        handle.write(_markdown_summary(summary, costs, labels))


def _markdown_summary(summary, costs, labels):
    """Test-set metrics per method and label (all stars, giants, dwarfs) and the costs."""
    lines = ["# Test-set metrics", "",
             "Robust scatter (1.4826 MAD) / bias (median residual) / outlier fraction; z = robust "
             "width of residual / predicted sigma (1 is honest).", ""]
    for subset in ("all", "giants", "dwarfs"):
        part = summary[summary["subset"] == subset]
        lines += [f"## {subset}", "", "| method | " + " | ".join(labels) + " |",
                  "|---" * (len(labels) + 1) + "|"]
        for method, rows in part.groupby("method", sort=False):
            cells = []
            for label in labels:
                r = rows[rows["label"] == label].iloc[0]
                cells.append(f"{_fmt(label, r['scatter'])} / {_fmt(label, r['bias'])} / "
                             f"{100 * r['outlier_frac']:.1f}% / z {r['z_width']:.2f} (N={r['n']})")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Cost", "", "| method | train stars | train [s] | test stars | predict [s] | stars/s |",
              "|---|---|---|---|---|---|"]
    for _, r in costs.iterrows():
        lines.append(f"| {r['method']} | {r['n_train']} | {r['train_seconds']:.1f} | {r['n_predict']} "
                     f"| {r['predict_seconds']:.2f} | {r['stars_per_second']:.0f} |")
    return "\n".join(lines) + "\n"


def _fmt(label, value):
    return f"{value:.0f}" if label == "teff" else f"{value:.3f}"


def plot_one_to_one(predictions_path, method, labels, figure_path):
    """One-to-one figure of one method."""
    plots.save(plots.one_to_one(pd.read_csv(predictions_path), method, labels), figure_path)


def plot_loss_curve(timing_path, method, figure_path):
    """Training and validation loss, and validation scatter, per epoch of each member of a neural method."""
    timing = read_json(timing_path)
    plots.save(plots.loss_curves(timing["history"], timing["monitor"], method), figure_path)


def plot_comparison(figure, methods, prediction_paths, summary_path, costs_path, labels, figure_path):
    """One of the figures that compare every method (``figure`` names which)."""
    predictions = {m: pd.read_csv(p) for m, p in zip(methods, prediction_paths)}
    reference = next(iter(predictions.values()))
    if figure == "scatter_vs_snr":
        fig = plots.scatter_vs_snr(pd.read_csv(summary_path), labels)
    elif figure == "kiel":
        fig = plots.kiel_diagram(reference, predictions)
    elif figure == "alpha_fe":
        fig = plots.alpha_iron(reference, predictions)
    elif figure == "calibration":
        fig = plots.calibration(predictions, labels)
    elif figure == "costs":
        fig = plots.costs(pd.read_csv(costs_path))
    else:
        raise ValueError(f"unknown comparison figure {figure!r}")
    plots.save(fig, figure_path)
