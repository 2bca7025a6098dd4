"""Prediction: the test split labelled by a trained method, with its out-of-distribution flags, and
the method's one-to-one figure."""

import logging
import time

import numpy as np
import pandas as pd

from ..data.predictions import sample_predictions
from ..diagnostics.ood import FLAGS, domain_flags
from ..methods.device import set_for_job
from .files import write_json
from .jobs import load_features, load_trained

__all__ = ["predict_method", "plot_one_to_one"]

log = logging.getLogger(__name__)


def predict_method(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus,
                   predictions_path, timing_path):
    """Label the test split with a trained model; write labels, sigmas, reference labels and the
    out-of-distribution flags (:mod:`labeltransfer.diagnostics.ood`; not part of the timing)."""
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    test = sample.subset(rows["test"])
    start = time.perf_counter()
    labels, sigma = model.predict(test.spectra)
    seconds = time.perf_counter() - start
    train = sample.subset(rows["train"])
    flags = domain_flags(train.spectra, train.labels, test.spectra, labels,
                         model.misfit_flags(test.spectra, labels, sigma, model.misfit_baseline(train.spectra)), seed)
    table = sample_predictions(test, labels, sigma, flags=flags)
    log.info("out-of-distribution flags: %s", {name: int(np.sum((table["flags"] & bit) > 0))
                                               for name, bit in FLAGS.items()})
    table.to_csv(predictions_path, index=False)
    write_json(timing_path, {"n_stars": len(test.apogee_id), "seconds": seconds, "threads": threads,
                              "stars_per_second": len(test.apogee_id) / seconds})
    log.info("predicted %d stars in %.2f s (%.0f stars/s)", len(test.apogee_id), seconds,
             len(test.apogee_id) / seconds)


def plot_one_to_one(*, predictions_path, method, labels, figure_path):
    """One-to-one figure of one method."""
    from ..evaluation import plots

    plots.save(plots.one_to_one(pd.read_csv(predictions_path), method, labels), figure_path)
