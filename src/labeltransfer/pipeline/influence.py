"""The flux influence: where in the spectrum each method reads each label, against where The Cannon's
model puts the information (:mod:`labeltransfer.diagnostics.influence`)."""

import logging
import time

import pandas as pd

from ..data.split import draw_test_rows
from ..diagnostics.influence import giant_dwarf_masks, influence_summary, pixel_shares
from ..methods.device import set_for_job
from .jobs import load_features, load_trained

__all__ = ["flux_influence", "evaluate_influence", "plot_influence"]

log = logging.getLogger(__name__)


def flux_influence(*, model_path, sample_path, split_path, method, colours, seed, threads, max_stars, table_path):
    """Where in the spectrum a trained method reads each label, on up to ``max_stars`` test stars
    (the draw of the S/N ladder): each pixel's median share of the method's flux influence, giants
    and dwarfs apart (:func:`labeltransfer.diagnostics.influence.pixel_shares`), with the influence's kind."""
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, 0)
    if model.influence_kind is None:
        raise ValueError(f"{model_path}: a {method['type']} model has no flux influence (its labels are no "
                         "smooth function of the flux)")
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    start = time.perf_counter()
    influence = model.flux_influence(stars.spectra)
    log.info("flux influence (%s) of %d stars in %.1f s", model.influence_kind, len(stars.apogee_id),
             time.perf_counter() - start)
    table = pixel_shares(influence, stars.spectra.wavelength, giant_dwarf_masks(stars.labels, stars.label_names),
                         stars.label_names)
    table.insert(0, "kind", model.influence_kind)
    table.to_csv(table_path, index=False)


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
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    curves, kinds = _influence_curves(methods, influence_paths)
    plots.save(diagnostic_plots.influence(curves, kinds, pd.read_csv(pixels_path), labels), figure_path)
