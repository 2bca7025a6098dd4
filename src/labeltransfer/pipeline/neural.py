"""The neural methods' figures: each member's loss curves, and one network against its ensemble on
the test split."""

import logging

import numpy as np

from ..evaluation.metrics import fraction_beyond, snr_bin_masks, widths_within
from ..methods.device import set_for_job
from .files import read_json
from .jobs import load_features, load_trained

__all__ = ["plot_loss_curve", "plot_ensemble_calibration"]

log = logging.getLogger(__name__)


def plot_loss_curve(*, timing_path, method, figure_path):
    """Training and validation loss, and validation scatter, per epoch of each member of a neural method."""
    from ..evaluation import plots

    timing = read_json(timing_path)
    plots.save(plots.loss_curves(timing["history"], timing["monitor"], method), figure_path)


def plot_ensemble_calibration(*, model_path, sample_path, split_path, method, colours, seed, snr_bins, threads,
                              figure_path):
    """Residual / sigma on the test split, the first network alone against the ensemble.

    Both are calibrated on the validation split the same way (coverage windows over all
    stars), so the figure shows what the ensemble's epistemic term adds: its tails, and how
    close to one the width stays from low to high S/N.
    """
    from ..evaluation import plots

    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    ensemble = load_trained(method, model_path, provenance, seed)
    set_for_job(ensemble, threads, gpus=0)
    validation, test = sample.subset(rows["validation"]), sample.subset(rows["test"])
    models = {"1 network": ensemble.sub_ensemble(1, (validation.spectra, validation.labels))}
    if ensemble.n_members > 1:
        models[f"ensemble of {ensemble.n_members}"] = ensemble
    z = {}
    in_bin = snr_bin_masks(test.snr, snr_bins)
    for name, model in models.items():
        predicted, sigma = model.predict(test.spectra)
        z[name] = (predicted - test.labels) / sigma
        log.info("%s: fraction of test stars with the label beyond 3 sigma %s", name,
                 dict(zip(sample.label_names, np.round(fraction_beyond(z[name]), 4).tolist())))
        for bin_name, widths in widths_within(z[name], in_bin).items():
            log.info("%s: %s (%d stars): robust width of residual / sigma %s", name, bin_name, in_bin[bin_name].sum(),
                     dict(zip(sample.label_names, np.round(widths, 3).tolist())))
    plots.save(plots.ensemble_calibration(z, test.snr, snr_bins, sample.label_names, method["type"]), figure_path)
