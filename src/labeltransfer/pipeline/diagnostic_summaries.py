"""Workflow steps that summarise the diagnostics of :mod:`labeltransfer.pipeline.diagnostics` in
tables and figures (no model is loaded here).

The curves: every method's labels of the S/N ladder's noisier test stars and of the learning
curve's models give the scatter (with its 68% bootstrap interval), bias and calibration width
of every method, label and point of the curve, over all stars and for giants and dwarfs apart;
the ladder also gives the S/N that stars of G = 15, 16, 17 have in the sample. The information
bound gives each method's efficiency; the flux influences, where each method reads each label
(:mod:`labeltransfer.diagnostics.influence`); the anomalies, their figure.
"""

import logging

import numpy as np
import pandas as pd

from ..diagnostics import plots as diagnostic_plots
from ..evaluation import plots
from ..evaluation.summary import bootstrap_scatter_bias
from ..diagnostics.degrade import snr_at_magnitudes
from ..diagnostics.influence import influence_summary
from ..evaluation.metrics import GIANT_LOGG, robust_scatter
from ..data.sample import LabelledSample
from .evaluation import read_predictions

__all__ = ["LADDER_MAGNITUDES", "curve_metrics", "evaluate_snr_ladder", "evaluate_learning_curve",
           "evaluate_wavelength_subsets",
           "evaluate_information", "evaluate_influence", "plot_snr_ladder", "plot_learning_curve", "plot_information",
           "plot_influence", "plot_anomalies"]

log = logging.getLogger(__name__)

#: G magnitudes whose typical S/N the ladder table and figure give.
LADDER_MAGNITUDES = (15.0, 16.0, 17.0)
#: Bootstrap resamples of the curves' scatter intervals.
_RESAMPLES = 500
#: Fewest stars a point of a curve is scored on.
_MIN_STARS = 30


def curve_metrics(predictions, labels, by, seed):
    """One row per method of ``predictions`` (``read_predictions``'s tables), value of ``by`` (a
    column of the tables), subset (all, giants, dwarfs) and label: ``n``, ``scatter`` with
    ``scatter_lo68`` / ``scatter_hi68``, ``bias``, ``z_width``."""
    rng = np.random.default_rng(seed)
    rows = []
    for method, table in predictions.items():
        for value, part in table.groupby(by):
            for subset, mask in _star_subsets(part):
                for label in labels:
                    rows.append({"method": method, by: value, "subset": subset, "label": label,
                                 **_label_metrics(part[mask], label, rng)})
    return pd.DataFrame(rows)


def _star_subsets(table):
    """(name, mask) of all stars, giants and dwarfs (by the reference logg) of a prediction table."""
    logg = table["logg_ref"].to_numpy() if "logg_ref" in table else np.full(len(table), np.nan)
    return (("all", np.ones(len(table), bool)), ("giants", logg < GIANT_LOGG), ("dwarfs", logg >= GIANT_LOGG))


def _label_metrics(table, label, rng):
    """n, scatter with its 68% interval, bias and the robust width of residual / sigma of one label."""
    residual = (table[label] - table[f"{label}_ref"]).to_numpy()
    z = residual / table[f"{label}_err"].to_numpy()
    good = np.isfinite(residual)
    if good.sum() < _MIN_STARS:
        return {"n": int(good.sum()), "scatter": np.nan, "scatter_lo68": np.nan, "scatter_hi68": np.nan,
                "bias": np.nan, "z_width": np.nan}
    scatter, _ = bootstrap_scatter_bias(residual[good, None], _RESAMPLES, rng)
    lo, hi = np.percentile(scatter[:, 0], [15.865, 84.135])
    return {"n": int(good.sum()), "scatter": robust_scatter(residual[good]), "scatter_lo68": lo,
            "scatter_hi68": hi, "bias": float(np.median(residual[good])), "z_width": robust_scatter(z[good])}


def evaluate_snr_ladder(*, methods, prediction_paths, sample_path, labels, seed, table_path, magnitudes_path):
    """The ladder table (``curve_metrics`` by ``level``) and the S/N of stars of G = 15, 16, 17."""
    curve_metrics(read_predictions(methods, prediction_paths), labels, "level", seed).to_csv(table_path, index=False)
    sample = LabelledSample.load(sample_path)
    snr = snr_at_magnitudes(sample.snr, sample.g_mag, LADDER_MAGNITUDES)
    log.info("typical S/N at G = %s: %s", LADDER_MAGNITUDES, np.round(snr, 1).tolist())
    pd.DataFrame({"g_mag": LADDER_MAGNITUDES, "snr": snr}).to_csv(magnitudes_path, index=False)


def evaluate_learning_curve(*, methods, prediction_paths, labels, seed, table_path):
    """The learning-curve table (``curve_metrics`` by ``n_train``), with each method's ``size_to_1_2``:
    the training size at which its scatter (all stars) is 1.2 times that of the whole training
    split, interpolated in log size (NaN where even the smallest model does better)."""
    table = curve_metrics(read_predictions(methods, prediction_paths), labels, "n_train", seed)
    table["size_to_1_2"] = np.nan
    for (method, subset, label), part in table.groupby(["method", "subset", "label"]):
        table.loc[part.index, "size_to_1_2"] = _size_reaching(part.sort_values("n_train"), 1.2)
    table.to_csv(table_path, index=False)


def evaluate_wavelength_subsets(*, methods, prediction_paths, labels, seed, table_path):
    """The wavelength-subset table: ``curve_metrics`` by ``band``, and each band's scatter minus
    that of the same method on all pixels (``minus_all``) with its paired 95% bootstrap interval
    over the same test stars (``minus_all_lo95``, ``minus_all_hi95``; an interval holding zero is
    a tie)."""
    tables = read_predictions(methods, prediction_paths)
    table = curve_metrics(tables, labels, "band", seed)
    rng = np.random.default_rng(seed)
    for column in ("minus_all", "minus_all_lo95", "minus_all_hi95"):
        table[column] = np.nan
    for method, predictions in tables.items():
        reference = predictions[predictions["band"] == "all"].set_index("apogee_id")
        for band, part in predictions[predictions["band"] != "all"].groupby("band"):
            part = part.set_index("apogee_id")
            for subset, mask in _star_subsets(part):
                for label in labels:
                    residuals = np.column_stack([(part[label] - part[f"{label}_ref"])[mask],
                                                 (reference[label] - reference[f"{label}_ref"]).reindex(
                                                     part.index[mask])])
                    row = ((table["method"] == method) & (table["band"] == band) & (table["subset"] == subset)
                           & (table["label"] == label))
                    table.loc[row, ["minus_all", "minus_all_lo95", "minus_all_hi95"]] = _paired_difference(
                        residuals, rng)
    table.to_csv(table_path, index=False)


def _paired_difference(residuals, rng):
    """Robust scatter of column 0 minus that of column 1, with the 95% interval over resamples of the
    stars both have (NaN where fewer than ``_MIN_STARS``)."""
    residuals = residuals[np.all(np.isfinite(residuals), axis=1)]
    if len(residuals) < _MIN_STARS:
        return [np.nan] * 3
    scatter, _ = bootstrap_scatter_bias(residuals, _RESAMPLES, rng)
    lo, hi = np.percentile(scatter[:, 0] - scatter[:, 1], [2.5, 97.5])
    return [robust_scatter(residuals[:, 0]) - robust_scatter(residuals[:, 1]), lo, hi]


def _size_reaching(curve, factor):
    """The training size where the scatter falls to ``factor`` times its last value (log-size interpolation)."""
    size, scatter = curve["n_train"].to_numpy(float), curve["scatter"].to_numpy()
    target = factor * scatter[-1]
    above = np.flatnonzero(scatter > target)
    if not np.isfinite(target) or above.size == 0 or above[-1] == len(scatter) - 1:
        return np.nan
    k = above[-1]
    fraction = (scatter[k] - target) / (scatter[k] - scatter[k + 1])
    return float(np.exp(np.log(size[k]) + fraction * (np.log(size[k + 1]) - np.log(size[k]))))


def plot_snr_ladder(*, table_path, magnitudes_path, labels, figure_path):
    """The ladder figure (:func:`labeltransfer.diagnostics.plots.snr_ladder`)."""
    figure = diagnostic_plots.snr_ladder(pd.read_csv(table_path), pd.read_csv(magnitudes_path), labels)
    plots.save(figure, figure_path)


def plot_learning_curve(*, table_path, labels, figure_path):
    """The learning-curve figure (:func:`labeltransfer.diagnostics.plots.learning_curve`)."""
    plots.save(diagnostic_plots.learning_curve(pd.read_csv(table_path), labels), figure_path)


def evaluate_information(*, ladder_path, bound_path, labels, table_path):
    """Each method's efficiency at each S/N of the ladder: the median Cramer-Rao bound of the
    ladder's stars over the method's scatter (all stars), pixels independent and correlated."""
    ladder = pd.read_csv(ladder_path)
    bounds = pd.read_csv(bound_path).groupby("level").median(numeric_only=True)
    rows = []
    for _, r in ladder[(ladder["subset"] == "all") & ladder["label"].isin(labels)].iterrows():
        if r["level"] not in bounds.index:
            continue
        bound = bounds.loc[r["level"], f"{r['label']}_bound"]
        correlated = bounds.loc[r["level"], f"{r['label']}_bound_correlated"]
        rows.append({"method": r["method"], "level": r["level"], "label": r["label"], "scatter": r["scatter"],
                     "bound": bound, "bound_correlated": correlated, "efficiency": bound / r["scatter"],
                     "efficiency_correlated": correlated / r["scatter"]})
    pd.DataFrame(rows).to_csv(table_path, index=False)


def plot_information(*, table_path, pixels_path, labels, figure_path):
    """The information figure (:func:`labeltransfer.diagnostics.plots.information`)."""
    plots.save(diagnostic_plots.information(pd.read_csv(table_path), pd.read_csv(pixels_path), labels), figure_path)


def _influence_curves(methods, influence_paths):
    """Each method's pixel-share table and the kind of its influence."""
    curves = {m: pd.read_csv(p) for m, p in zip(methods, influence_paths)}
    return ({m: table.drop(columns="kind") for m, table in curves.items()},
            {m: str(table["kind"].iloc[0]) for m, table in curves.items()})


def evaluate_influence(*, methods, influence_paths, pixels_path, labels, table_path):
    """Where each method reads each label against where the information is
    (:func:`labeltransfer.diagnostics.influence.influence_summary`)."""
    curves, kinds = _influence_curves(methods, influence_paths)
    table = influence_summary(curves, kinds, pd.read_csv(pixels_path), labels)
    table.to_csv(table_path, index=False)
    for _, r in table[table["label"] == "alpha_m"].iterrows():
        log.info("%s, %s: [alpha/M] read with an overlap of %.2f with its information and %.2f with [Fe/H]",
                 r["method"], r["subset"], r["overlap_information"], r["overlap_fe_h"])


def plot_influence(*, methods, influence_paths, pixels_path, labels, figure_path):
    """The influence figure (:func:`labeltransfer.diagnostics.plots.influence`)."""
    curves, kinds = _influence_curves(methods, influence_paths)
    plots.save(diagnostic_plots.influence(curves, kinds, pd.read_csv(pixels_path), labels), figure_path)


def plot_anomalies(*, spectra_path, stacked_path, figure_path):
    """The anomalies figure (:func:`labeltransfer.diagnostics.plots.anomalies`)."""
    with np.load(spectra_path, allow_pickle=False) as spectra:
        figure = diagnostic_plots.anomalies(dict(spectra), pd.read_csv(stacked_path))
    plots.save(figure, figure_path)
