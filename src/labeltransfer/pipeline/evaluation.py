"""Evaluation: every method's test-set metrics with bootstrap intervals, the paired comparison, the
costs and the out-of-distribution table, and the figures that compare the methods."""

import logging
import time

import numpy as np
import pandas as pd

from ..data.sample import LabelledSample
from ..diagnostics.ood import ood_summary
from ..evaluation.metrics import COVERAGE_SIGMAS
from ..evaluation.summary import N_RESAMPLES, summarise
from ..methods.calibration import COVERAGE_WINDOWS
from .files import read_json, read_predictions

__all__ = ["evaluate_methods", "plot_comparison", "plot_calibration_per_bin"]

log = logging.getLogger(__name__)


def evaluate_methods(*, methods, prediction_paths, fit_paths, predict_paths, sample_path, labels, snr_bins,
                     teff_bins, seed, summary_path, comparison_path, table_path, costs_path, ood_path):
    """The summary table (CSV and Markdown), the paired comparison, the cost table and the
    out-of-distribution table (:func:`labeltransfer.diagnostics.ood.ood_summary`) of every method.

    The metrics and their bootstrap intervals are those of :func:`labeltransfer.evaluation.summary.summarise`
    (resamples seeded with ``seed``), over all test stars and in the subsets: giants and dwarfs, the
    bins of S/N (``snr_bins``) and of reference Teff in K (``teff_bins``; none without a ``teff``
    label), and with / without a parallax (from the sample's parallax feature).
    """
    predictions = read_predictions(methods, prediction_paths)
    for method, table in predictions.items():
        _log_bad_sigma(method, table, labels)
    sample = LabelledSample.load(sample_path)
    parallax = sample.spectra.select_aux(["parallax"]).aux[:, 0]
    test_ids = next(iter(predictions.values()))["apogee_id"].to_numpy()
    has_parallax = np.isfinite(parallax[sample.rows_of(test_ids)])
    start = time.perf_counter()
    if "teff" not in labels:
        log.info("no teff label: the summary has no Teff subsets (teff_bins %s)", teff_bins)
    summary, comparison = summarise(predictions, labels, snr_bins, has_parallax=has_parallax,
                                    teff_bins=teff_bins if "teff" in labels else None, seed=seed)
    log.info("%s test stars, %d methods, %d labels, %d subsets: metrics with %s bootstrap resamples and %d "
             "paired comparisons in %.1f s", f"{len(test_ids):,}", len(methods), len(labels),
             summary["subset"].nunique(), f"{N_RESAMPLES:,}", len(comparison), time.perf_counter() - start)
    summary.to_csv(summary_path, index=False)
    comparison.to_csv(comparison_path, index=False)
    costs = []
    for method, fit_path, predict_path in zip(methods, fit_paths, predict_paths):
        fit, pred = read_json(fit_path), read_json(predict_path)
        costs.append({"method": method, "n_train": fit["n_stars"], "train_seconds": fit["seconds"],
                      "n_predict": pred["n_stars"], "predict_seconds": pred["seconds"],
                      "stars_per_second": pred["stars_per_second"], "threads": pred["threads"]})
    costs = pd.DataFrame(costs)
    costs.to_csv(costs_path, index=False)
    ood = ood_summary(predictions, labels)
    ood.to_csv(ood_path, index=False)
    with open(table_path, "w") as handle:
        handle.write(_markdown_summary(summary, comparison, costs, ood, labels, sample.provenance))


def _log_bad_sigma(method, table, labels):
    """Name the stars whose predicted sigma is missing or not positive (counted as not covered)."""
    for label in labels:
        predicted = np.isfinite(table[label]) & np.isfinite(table[f"{label}_ref"])
        bad = predicted & ~(table[f"{label}_err"] > 0)
        if bad.any():
            log.warning("%s: %d test stars have a prediction of %s but no positive sigma (counted as outside "
                        "every interval of the coverage), e.g. %s", method, bad.sum(), label,
                        ", ".join(table.loc[bad, "apogee_id"].astype(str).head(5)))


def _markdown_summary(summary, comparison, costs, ood, labels, provenance):
    """Test-set metrics with intervals, calibration, paired comparisons and costs, as Markdown."""
    lines = ["# Test-set metrics", "", f"Data: {provenance['release']} (source `{provenance['source']}`; "
             + "; ".join(f"`{entry['path']}` sha256 {entry['sha256'][:16]}" for entry in provenance["files"]) + ").",
             "",
             "Robust scatter (1.4826 MAD) with its 68% bootstrap interval, bias (median residual) and outlier "
             "fraction; coverage: the stars within 1, 2 and 3 predicted sigma (68.3 / 95.4 / 99.7% for honest "
             "Gaussian uncertainties). A subset of fewer than 30 stars is reported as too small.", ""]
    for subset in ("all", "giants", "dwarfs", "with_parallax", "without_parallax"):
        part = summary[summary["subset"] == subset]
        if part.empty:
            continue
        lines += [f"## {subset}", "", "| method | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for method, rows in part.groupby("method", sort=False):
            cells = [_cell(label, rows[rows["label"] == label].iloc[0]) for label in labels]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _coverage_per_snr_bin(summary, labels)
    lines += ["## Paired comparison (all stars)", "",
              "Scatter of the first method minus the second, with its 95% bootstrap interval over the same "
              "resamples of the test stars; inside the interval is a tie.", "",
              "| label | first | second | difference [95% interval] | verdict |", "|---|---|---|---|---|"]
    for _, r in comparison[comparison["subset"] == "all"].iterrows():
        lines.append(f"| {r['label']} | {r['method_a']} | {r['method_b']} | {_fmt(r['label'], r['difference'])} "
                     f"[{_fmt(r['label'], r['difference_lo95'])}, {_fmt(r['label'], r['difference_hi95'])}] | "
                     f"{r['verdict']} |")
    lines += ["", "## Out of distribution", "",
              "Test stars flagged (`flags` of the predictions: 1 spectrum far from the training spectra, 2 "
              "predicted labels where the training set has almost no stars, 4 the model's own misfit), and the "
              "robust scatter of the flagged stars over that of the others.", "",
              "| method | flagged (spectrum / labels / model) | " + " | ".join(f"{label} ratio" for label in labels)
              + " |", "|---" * (len(labels) + 2) + "|"]
    for method, rows in ood.groupby("method", sort=False):
        first = rows.iloc[0]
        fractions = " / ".join(f"{100 * first[f'{name}_fraction']:.1f}" for name in ("spectrum", "labels", "model"))
        ratios = " | ".join(f"{r:.2f}" if np.isfinite(r) else "-" for r in rows["ratio"])
        lines.append(f"| {method} | {100 * first['flagged_fraction']:.1f}% ({fractions}) | {ratios} |")
    lines += ["", "## Cost", "", "| method | train stars | train [s] | test stars | predict [s] | stars/s |",
              "|---|---|---|---|---|---|"]
    for _, r in costs.iterrows():
        lines.append(f"| {r['method']} | {r['n_train']} | {r['train_seconds']:.1f} | {r['n_predict']} "
                     f"| {r['predict_seconds']:.2f} | {r['stars_per_second']:.0f} |")
    return "\n".join(lines) + "\n"


def _coverage_per_snr_bin(summary, labels):
    """The Markdown section of every method's coverage within 1 sigma, per label and S/N bin."""
    low, high = COVERAGE_WINDOWS[1]
    lines = ["## Coverage per S/N bin", "",
             f"Test stars within 1 predicted sigma of the APOGEE label, per bin of the spectrum's S/N (N: the "
             f"bin's stars with a prediction and a reference label); in bold where outside {100 * low:.0f}-"
             f"{100 * high:.0f}% (honest Gaussian uncertainties: 68.3%). Within 2 and 3 sigma, NLL and CRPS per "
             "S/N and Teff bin: `summary.csv` (subsets `snr_*`, `teff_*`) and `figures/calibration_per_bin.png`.",
             "", "| S/N | method | " + " | ".join(labels) + " |", "|---" * (len(labels) + 2) + "|"]
    rows = summary.set_index(["subset", "method", "label"])
    for subset in (s for s in dict.fromkeys(summary["subset"]) if s.startswith("snr_")):
        lo, hi = subset.removeprefix("snr_").split("-")
        snr = f"{lo}+" if hi == "inf" else f"{lo}-{hi}"
        for method in dict.fromkeys(summary["method"]):
            cells = [_coverage_cell(rows.loc[(subset, method, label)], low, high) for label in labels]
            lines.append(f"| {snr} | {method} | " + " | ".join(cells) + " |")
    return lines + [""]


def _coverage_cell(r, low, high):
    """One method's within-1-sigma coverage of one label in one bin (bold outside ``low``-``high``)."""
    n = int(r["n"])
    if not np.isfinite(r["cover_1"]):
        return f"too small (N={n})"
    percent = f"{100 * r['cover_1']:.0f}%"
    return f"{percent if low <= r['cover_1'] <= high else f'**{percent}**'} (N={n:,})"


def _cell(label, r):
    """One method's metrics of one label, for the Markdown table."""
    if not np.isfinite(r["scatter"]):
        return f"too small (N={r['n']})"
    coverage = " / ".join(f"{100 * r[f'cover_{k}']:.0f}" for k in COVERAGE_SIGMAS)
    return (f"{_fmt(label, r['scatter'])} [{_fmt(label, r['scatter_lo68'])}, {_fmt(label, r['scatter_hi68'])}] / "
            f"{_fmt(label, r['bias'])} / {100 * r['outlier_frac']:.1f}% / cover {coverage}% (N={r['n']})")


def _fmt(label, value):
    return f"{value:.1f}" if label == "teff" else f"{value:.4f}"


def plot_comparison(*, figure, methods, prediction_paths, summary_path, costs_path, labels, figure_path):
    """One of the figures that compare every method (``figure`` names which)."""
    from ..evaluation import plots

    predictions = read_predictions(methods, prediction_paths)
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
        fig = plots.costs(pd.read_csv(costs_path), pd.read_csv(summary_path), labels)
    else:
        raise ValueError(f"unknown comparison figure {figure!r}")
    plots.save(fig, figure_path)


def plot_calibration_per_bin(*, summary_path, labels, figure_path):
    """The figure of every method's coverage within 1 and 2 sigma per S/N and Teff bin, from the summary
    table (:func:`labeltransfer.evaluation.plots.calibration_per_bin`; shaded: ``COVERAGE_WINDOWS``)."""
    from ..evaluation import plots

    plots.save(plots.calibration_per_bin(pd.read_csv(summary_path), labels, COVERAGE_WINDOWS), figure_path)
