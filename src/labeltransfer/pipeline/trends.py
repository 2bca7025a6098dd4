"""The residual trends: every method's residuals against extinction, brightness and sky position at
fixed reference labels (:mod:`labeltransfer.diagnostics.trends`), and their figure."""

import logging

import pandas as pd

from ..data.sample import LabelledSample
from ..diagnostics.trends import CELL_EDGES, QUANTITIES, TOLERANCE, residual_trends, trend_quantities
from .files import read_predictions

__all__ = ["evaluate_trends", "plot_residual_trends"]

log = logging.getLogger(__name__)


def evaluate_trends(*, methods, prediction_paths, sample_path, labels, seed, table_path):
    """The partial dependence of every method's residuals on A_K, G, Galactic l and b at fixed labels
    (:func:`labeltransfer.diagnostics.trends.residual_trends`), held fixed in those of ``CELL_EDGES``'s
    labels that ``labels`` has."""
    predictions = read_predictions(methods, prediction_paths)
    ids = next(iter(predictions.values()))["apogee_id"].to_numpy()
    quantities = trend_quantities(LabelledSample.load(sample_path), ids)
    cell_edges = {label: edges for label, edges in CELL_EDGES.items() if label in labels}
    if not cell_edges:
        raise ValueError(f"labels {list(labels)} have none of {list(CELL_EDGES)} to hold fixed: add one to config labels")
    log.info("reference labels held fixed: %s", ", ".join(cell_edges))
    trends = residual_trends(predictions, quantities, labels, cell_edges, seed=seed)
    trends.to_csv(table_path, index=False)
    summary = trends.drop_duplicates(["method", "label", "quantity"])
    log.info("%d of %d methods' labels and quantities have a trend at fixed labels (a bin's 95%% interval beyond "
             "+-%.2g of the method's scatter); stars left out (small cells): %s", summary["trend"].sum(),
             len(summary), TOLERANCE, summary.groupby(["method", "label"])["n_left_out"].max().to_dict())


def plot_residual_trends(*, methods, table_path, labels, figure_path):
    """The residual-trends figure (:func:`labeltransfer.diagnostics.plots.residual_trends`)."""
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    trends = pd.read_csv(table_path)
    plots.save(diagnostic_plots.residual_trends(trends, methods, labels, QUANTITIES), figure_path)
