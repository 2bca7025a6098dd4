"""The residual trends: the slopes of every method's residuals against extinction, brightness and sky
position (:mod:`labeltransfer.diagnostics.trends`), and their figure."""

import logging

import pandas as pd

from ..data.sample import LabelledSample
from ..diagnostics.trends import QUANTITIES, residual_trends, trend_quantities
from .files import read_predictions

__all__ = ["evaluate_trends", "plot_residual_trends"]

log = logging.getLogger(__name__)


def _predictions_and_quantities(methods, prediction_paths, sample_path):
    predictions = read_predictions(methods, prediction_paths)
    ids = next(iter(predictions.values()))["apogee_id"].to_numpy()
    return predictions, trend_quantities(LabelledSample.load(sample_path), ids)


def evaluate_trends(*, methods, prediction_paths, sample_path, labels, seed, table_path):
    """Slopes of every method's residuals against A_K, G, Galactic l and b (:mod:`labeltransfer.diagnostics.trends`)."""
    predictions, quantities = _predictions_and_quantities(methods, prediction_paths, sample_path)
    trends = residual_trends(predictions, quantities, labels, seed=seed)
    trends.to_csv(table_path, index=False)
    significant = trends[(trends["slope_lo95"] > 0) | (trends["slope_hi95"] < 0)]
    log.info("%d of %d slopes have a 95%% interval that excludes zero", len(significant), len(trends))


def plot_residual_trends(*, methods, prediction_paths, sample_path, table_path, labels, figure_path):
    """The residual-trends figure (:func:`labeltransfer.diagnostics.plots.residual_trends`)."""
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    predictions, quantities = _predictions_and_quantities(methods, prediction_paths, sample_path)
    figure = diagnostic_plots.residual_trends(predictions, quantities, pd.read_csv(table_path), labels, QUANTITIES)
    plots.save(figure, figure_path)
