"""Prediction: the test split labelled by a trained method, with its out-of-distribution flags, and
the method's one-to-one figure."""

import logging
import time

import numpy as np
import pandas as pd

from ..data.predictions import REFERENCE_BEYOND, sample_predictions
from ..diagnostics.ood import FLAGS, TrainingDomain
from ..methods.device import set_for_job
from .files import write_json
from .jobs import load_features, load_trained

__all__ = ["predict_method", "plot_one_to_one"]

log = logging.getLogger(__name__)


def predict_method(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus,
                   predictions_path, timing_path):
    """Label the test split with a trained model; write labels, sigmas, reference labels, the
    out-of-distribution flags (:mod:`labeltransfer.diagnostics.ood`: the label bit's threshold from the
    model's predictions of the validation split) and whether each star's reference labels lie beyond
    the training set's (``reference_beyond_training``); the flags are not part of the timing."""
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    test = sample.subset(rows["test"])
    start = time.perf_counter()
    labels, sigma = model.predict(test.spectra)
    seconds = time.perf_counter() - start
    train, validation = sample.subset(rows["train"]), sample.subset(rows["validation"])
    domain = TrainingDomain(train.spectra, train.labels, model.predict(validation.spectra)[0], seed)
    flags = domain.flags(test.spectra, labels,
                         model.misfit_flags(test.spectra, labels, sigma, model.misfit_baseline(train.spectra)))
    table = sample_predictions(test, labels, sigma, flags=flags, reference_beyond=domain.reference_beyond(test.labels))
    log.info("out-of-distribution flags: %s", {name: int(np.sum((table["flags"] & bit) > 0))
                                               for name, bit in FLAGS.items()})
    beyond, by_labels = table[REFERENCE_BEYOND].to_numpy(), (flags & FLAGS["labels"]) > 0
    log.info("the label bit flags %d of the %d test stars whose reference labels lie beyond the training set's, "
             "%d of the %d within", by_labels[beyond == 1].sum(), np.sum(beyond == 1), by_labels[beyond == 0].sum(),
             np.sum(beyond == 0))
    table.to_csv(predictions_path, index=False)
    write_json(timing_path, {"n_stars": len(test.apogee_id), "seconds": seconds, "threads": threads,
                              "stars_per_second": len(test.apogee_id) / seconds})
    log.info("predicted %d stars in %.2f s (%.0f stars/s)", len(test.apogee_id), seconds,
             len(test.apogee_id) / seconds)


def plot_one_to_one(*, predictions_path, method, labels, figure_path):
    """One-to-one figure of one method."""
    from ..evaluation import plots

    plots.save(plots.one_to_one(pd.read_csv(predictions_path), method, labels), figure_path)
