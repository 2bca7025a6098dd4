"""The learning curve: the test stars labelled by a method trained on nested subsets of the training
split, scored per training size, with the size at which a method comes within 1.2 times its final
scatter."""

import numpy as np
import pandas as pd

from ..data.predictions import sample_predictions
from ..data.split import draw_test_rows
from ..evaluation.summary import curve_metrics
from ..methods.device import set_for_job
from .files import read_predictions
from .jobs import CURVE_RESAMPLES, training_order, fit_fresh, load_features, load_trained

__all__ = ["learning_curve", "evaluate_learning_curve", "plot_learning_curve"]


def learning_curve(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus, sizes, max_stars,
                   predictions_path):
    """Label the test stars with the method trained on nested subsets of the training split.

    The subsets are the first ``size`` stars of one seeded permutation of the training split
    (each holds the smaller ones); every model is validated (early stopping, calibration) on the
    whole validation split, as the workflow's model is, and that model (all training stars) is
    the last point. A size the method has too few stars for is left out, and so is one not
    smaller than the training split. The table's ``n_train`` column says which model.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    order = training_order(rows, seed)
    parts = []
    for size in sorted(s for s in sizes if s < len(order)):
        model = fit_fresh(method, seed, threads, gpus, sample.subset(np.sort(order[:size])),
                           sample.subset(rows["validation"]), f"{size} training stars")
        if model is not None:
            parts.append(sample_predictions(stars, *model.predict(stars.spectra), leading={"n_train": size}))
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    parts.append(sample_predictions(stars, *model.predict(stars.spectra), leading={"n_train": len(order)}))
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)


def evaluate_learning_curve(*, methods, prediction_paths, labels, seed, table_path):
    """The learning-curve table (``curve_metrics`` by ``n_train``), with each method's ``size_to_1_2``:
    the training size at which its scatter (all stars) is 1.2 times that of the whole training
    split, interpolated in log size (NaN where even the smallest model does better)."""
    table = curve_metrics(read_predictions(methods, prediction_paths), labels, "n_train", n_resamples=CURVE_RESAMPLES,
                          seed=seed)
    table["size_to_1_2"] = np.nan
    for (method, subset, label), part in table.groupby(["method", "subset", "label"]):
        table.loc[part.index, "size_to_1_2"] = _size_reaching(part.sort_values("n_train"), 1.2)
    table.to_csv(table_path, index=False)


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


def plot_learning_curve(*, table_path, labels, figure_path):
    """The learning-curve figure (:func:`labeltransfer.diagnostics.plots.learning_curve`)."""
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    plots.save(diagnostic_plots.learning_curve(pd.read_csv(table_path), labels), figure_path)
