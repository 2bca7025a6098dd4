"""Training: one configured method fitted on a task's training split, and the trained models of a
finished run (for the benches)."""

import logging
import time
from pathlib import Path

from ..data.sample import feature_names
from ..methods import load_method, make_method
from ..methods.device import set_for_job
from .files import write_json
from .jobs import fit_model, load_features

__all__ = ["train_method", "trained_models"]

log = logging.getLogger(__name__)


def train_method(*, sample_path, split_path, method, colours, seed, threads, gpus, model_path,
                 timing_path):
    """Fit one configured method on the training split (validation split for early stopping)."""
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = make_method(method["type"], method["params"], seed=seed)
    device = set_for_job(model, threads, gpus)
    train, val = sample.subset(rows["train"]), sample.subset(rows["validation"])
    log.info("training %s on %d stars (%d validation), features: %d pixels + %s", method["type"],
             len(train.apogee_id), len(val.apogee_id), train.spectra.flux.shape[1], list(train.spectra.aux_names))
    start = time.perf_counter()
    fit_model(model, train, val)
    seconds = time.perf_counter() - start
    model.provenance_ = {**provenance, "seed": seed}
    model.save(model_path)
    timing = {"n_stars": len(train.apogee_id), "seconds": seconds, "threads": threads, "device": device}
    if hasattr(model, "history_"):  # the networks' loss curves (and what chose their epoch); the Payne's emulator's
        timing["history"], timing["monitor"] = model.history_, getattr(model, "monitor", "loss")
    write_json(timing_path, timing)
    log.info("trained in %.1f s", seconds)


def trained_models(results, config, threads):
    """``(name, model, auxiliary feature names)`` of every method of ``config`` trained in a task's
    ``results`` folder, each model set for a job of ``threads`` CPU threads and no GPU (for the
    benches that reuse a finished run's models)."""
    for name in config["methods"]:
        settings = config["method_settings"][name]
        model = load_method(settings["type"], Path(results) / "models" / f"{name}.npz")
        set_for_job(model, threads, 0)
        yield name, model, feature_names(settings["feature_set"], config["colours"])
