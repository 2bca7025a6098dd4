"""Workflow steps that train a method and label the test split with it."""

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..methods.device import job_device
from ..methods import load_method, make_method
from ..diagnostics.ood import FLAGS, TrainingDomain, domain_flags
from ..data.sample import LabelledSample, feature_names
from ..data.split import read_split
from ._json import write_json

__all__ = ["ProvenanceError", "load_features", "train_method", "predict_method", "label_table", "load_trained",
           "set_for_job", "trained_models", "training_domains"]

log = logging.getLogger(__name__)


class ProvenanceError(ValueError):
    """A model trained on another sample, split or seed than the run that uses it."""


def load_features(sample_path, split_path, method, colours):
    """The sample with the auxiliary features of the method's feature set, the split rows, and
    the provenance of both (``{"sample": sha256, "split": sha256}``)."""
    sample, rows, provenance = _sample_and_split(sample_path, split_path)
    sample.spectra = sample.spectra.select_aux(feature_names(method["feature_set"], colours))
    return sample, rows, provenance


def _sample_and_split(sample_path, split_path):
    """The sample, its split's rows (an edited split is refused: :func:`labeltransfer.data.split.read_split`)
    and the provenance of both."""
    sample = LabelledSample.load(sample_path)
    rows = read_split(split_path, sample)
    return sample, rows, {"sample": sample.fingerprint(), "split": sample.split_fingerprint}


def load_trained(method, model_path, provenance, seed):
    """A trained model, refused unless it was trained on this sample and split with this seed."""
    model = load_method(method["type"], model_path)
    _check_provenance(model, provenance, seed, model_path)
    return model


def _check_provenance(model, provenance, seed, model_path):
    expected = {**provenance, "seed": seed}
    found = model.provenance_ or {}
    differ = [key for key in expected if found.get(key) != expected[key]]
    if differ:
        def show(values):
            return ", ".join(f"{k} {str(values.get(k))[:12]}" for k in differ)
        raise ProvenanceError(f"{model_path} was trained on another run ({show(found)}) than this one "
                              f"({show(expected)}): retrain it (delete the file) or use its run's data")


def training_domains(sample_path, split_path, models, model_paths, seed):
    """For each model, its training stars' spectra (with its auxiliary features) and their side of
    the out-of-distribution flags (``TrainingDomain``; one per feature set), the sample read once;
    a model not trained on this sample and split with this seed is refused."""
    sample, rows, provenance = _sample_and_split(sample_path, split_path)
    train = sample.subset(rows["train"])
    references = {}
    for model, model_path in zip(models, model_paths):
        _check_provenance(model, provenance, seed, model_path)
        if model.aux_names_ not in references:
            spectra = train.spectra.select_aux(list(model.aux_names_))
            references[model.aux_names_] = spectra, TrainingDomain(spectra, train.labels, seed)
    return [references[model.aux_names_] for model in models]


def set_for_job(model, threads, gpus):
    """Give a model the job's threads and the device its resources allow; return the device.

    A model saved with ``device: cuda`` is moved to the CPU where the job has no GPU."""
    model.set_params(threads=threads)
    device = job_device(model.method_type, gpus)
    if "device" in model.param_names():
        model.set_params(device=device)
    return device


def train_method(*, sample_path, split_path, method, colours, seed, threads, gpus, model_path,
                 timing_path):
    """Fit one configured method on the training split (validation split for early stopping)."""
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    params = dict(method["params"])
    params.setdefault("random_state", seed)
    model = make_method(method["type"], params)
    device = set_for_job(model, threads, gpus)
    train, val = sample.subset(rows["train"]), sample.subset(rows["validation"])
    log.info("training %s on %d stars (%d validation), features: %d pixels + %s", method["type"],
             len(train.apogee_id), len(val.apogee_id), train.spectra.flux.shape[1], list(train.spectra.aux_names))
    start = time.perf_counter()
    model.fit(train.spectra, train.labels, train.label_err, sample.label_names,
              validation=(val.spectra, val.labels, val.label_err))
    seconds = time.perf_counter() - start
    model.provenance_ = {**provenance, "seed": seed}
    model.save(model_path)
    timing = {"n_stars": len(train.apogee_id), "seconds": seconds, "threads": threads, "device": device}
    if hasattr(model, "history_"):
        timing["history"], timing["monitor"] = model.history_, model.monitor
    write_json(timing_path, timing)
    log.info("trained in %.1f s", seconds)


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
    table = label_table(test, labels, sigma)
    train = sample.subset(rows["train"])
    table["flags"] = domain_flags(train.spectra, train.labels, test.spectra, labels,
                                   model.misfit_flags(test.spectra, labels, sigma,
                                                      model.misfit_baseline(train.spectra)), seed)
    log.info("out-of-distribution flags: %s", {name: int(np.sum((table["flags"] & bit) > 0))
                                               for name, bit in FLAGS.items()})
    table.to_csv(predictions_path, index=False)
    write_json(timing_path, {"n_stars": len(test.apogee_id), "seconds": seconds, "threads": threads,
                              "stars_per_second": len(test.apogee_id) / seconds})
    log.info("predicted %d stars in %.2f s (%.0f stars/s)", len(test.apogee_id), seconds,
             len(test.apogee_id) / seconds)


def label_table(stars, labels, sigma, **columns):
    """A prediction table: ``columns`` first (each a value or one per star), then ``apogee_id``,
    the measured ``snr``, and each label, its sigma, its reference and the reference's error."""
    table = pd.DataFrame({**columns, "apogee_id": stars.apogee_id, "snr": stars.snr})
    for k, name in enumerate(stars.label_names):
        table[name], table[f"{name}_err"] = labels[:, k], sigma[:, k]
        table[f"{name}_ref"], table[f"{name}_ref_err"] = stars.labels[:, k], stars.label_err[:, k]
    return table


def trained_models(results, config, threads):
    """``(name, model, auxiliary feature names)`` of every method of ``config`` trained in a task's
    ``results`` folder (for the benches that reuse a finished run's models)."""
    for name in config["methods"]:
        settings = config["method_settings"][name]
        model = load_method(settings["type"], Path(results) / "models" / f"{name}.npz").set_params(threads=threads)
        yield name, model, feature_names(settings["feature_set"], config["colours"])
