"""What several features' steps share: a method's features and its trained model (checked against the
run's sample, split and seed); a fresh fit and the seeded order of the training stars; the training
side of the flags; and the number of bootstrap resamples of the diagnostics' curves."""

import logging
import time

import numpy as np

from ..data.sample import LabelledSample, feature_names
from ..data.split import read_split
from ..diagnostics.ood import TrainingDomain
from ..methods import KINDS, TooFewStarsError, load_method, make_method
from ..methods.device import set_for_job

__all__ = ["CURVE_RESAMPLES", "XP_SOURCES", "ProvenanceError", "load_features", "load_trained", "training_domains", "fit_model",
           "fit_fresh", "training_order"]

log = logging.getLogger(__name__)

#: Bootstrap resamples of the intervals of the diagnostics' curves (the S/N ladder, the learning curve,
#: the wavelength subsets: :func:`labeltransfer.evaluation.summary.curve_metrics`).
CURVE_RESAMPLES = 500
#: Sources whose spectra are Gaia XP spectra sampled from their coefficients.
XP_SOURCES = ("xp_library", "gaia_xp")


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
    """For each model, its training stars' spectra (with its auxiliary features) and its side of the
    out-of-distribution flags (``TrainingDomain``: the spectral space one per feature set, the label
    bit's threshold from the model's own predictions of the validation stars), the sample read once;
    a model not trained on this sample and split with this seed is refused."""
    sample, rows, provenance = _sample_and_split(sample_path, split_path)
    train, validation = sample.subset(rows["train"]), sample.subset(rows["validation"])
    shared, domains = {}, []  # per feature set: the training spectra and the first model's domain
    for model, model_path in zip(models, model_paths):
        _check_provenance(model, provenance, seed, model_path)
        predicted = model.predict(validation.spectra.select_aux(list(model.aux_names_)))[0]
        if model.aux_names_ in shared:
            spectra, domain = shared[model.aux_names_]
            domains.append((spectra, domain.for_predictions(predicted)))
        else:
            spectra = train.spectra.select_aux(list(model.aux_names_))
            shared[model.aux_names_] = spectra, TrainingDomain(spectra, train.labels, predicted, seed)
            domains.append(shared[model.aux_names_])
    return domains


def fit_model(model, train, validation):
    """Fit ``model`` on the labelled stars ``train``, validated on ``validation`` (both
    :class:`~labeltransfer.data.sample.LabelledSample`); a method type that models the extinction
    (``KINDS``' ``extinction``) is given both sets' A_K."""
    extinction = ({"extinction": (train.extinction_k, validation.extinction_k)}
                  if KINDS[model.method_type].extinction else {})
    return model.fit(train.spectra, train.labels, train.label_err, train.label_names,
                     validation=(validation.spectra, validation.labels, validation.label_err), **extinction)


def fit_fresh(method, seed, threads, gpus, train, validation, what):
    """A new model of ``method`` fitted on ``train`` (validated on ``validation``); None, logged,
    where the method has too few stars."""
    model = make_method(method["type"], method["params"], seed=seed)
    set_for_job(model, threads, gpus)
    start = time.perf_counter()
    try:
        fit_model(model, train, validation)
    except TooFewStarsError as error:
        log.info("%s: left out (%s)", what, error)
        return None
    log.info("%s: trained in %.1f s", what, time.perf_counter() - start)
    return model


def training_order(rows, seed):
    """The training rows in one seeded order: the first ``n`` are the training subset of size ``n``."""
    return np.random.default_rng(seed).permutation(rows["train"])
