"""Workflow steps that label test stars beyond the summary: made noisier (the S/N ladder) and by
models trained on fewer stars (the learning curve).

Both take up to ``max_stars`` test stars, drawn with the run's seed, the same for every method;
their tables are long (one row per star and S/N level, or per star and training size) and are
scored by :mod:`labeltransfer.pipeline.curves`.
"""

import logging
import time

import numpy as np
import pandas as pd

from ..degrade import degrade_to_snr
from ..methods import TooFewStarsError, make_method
from .modelling import label_table, load_features, load_trained, set_for_job

__all__ = ["predict_snr_ladder", "learning_curve"]

log = logging.getLogger(__name__)


def _test_rows(rows, max_stars, seed):
    """At most ``max_stars`` of the test rows, drawn with ``seed``, in sample order."""
    test = rows["test"]
    if len(test) > max_stars:
        test = np.sort(np.random.default_rng(seed).choice(test, max_stars, replace=False))
    return test


def predict_snr_ladder(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus, levels,
                       max_stars, predictions_path):
    """Label the S/N ladder's noisier test spectra with one trained model.

    The test stars are degraded to each S/N of ``levels`` (:func:`labeltransfer.degrade.degrade_to_snr`,
    the noise seeded by the run's seed and the level: the same noisy spectra for every method);
    the table's ``level`` column says which.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    stars = sample.subset(_test_rows(rows, max_stars, seed))
    parts = []
    for k, level in enumerate(levels):
        noisy, kept = degrade_to_snr(stars.spectra, level, np.random.default_rng([seed, k]))
        if not kept.any():
            log.info("S/N %g: no test star is that bright; left out", level)
            continue
        start = time.perf_counter()
        labels, sigma = model.predict(noisy)
        log.info("S/N %g: %d stars labelled in %.1f s", level, kept.sum(), time.perf_counter() - start)
        parts.append(label_table(stars.subset(np.flatnonzero(kept)), labels, sigma, level=level))
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)


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
    stars = sample.subset(_test_rows(rows, max_stars, seed))
    validation = sample.subset(rows["validation"])
    order = np.random.default_rng(seed).permutation(rows["train"])
    parts = []
    for size in sorted(s for s in sizes if s < len(order)):
        train = sample.subset(np.sort(order[:size]))
        model = make_method(method["type"], {"random_state": seed, **method["params"]})
        set_for_job(model, threads, gpus)
        start = time.perf_counter()
        try:
            model.fit(train.spectra, train.labels, train.label_err, sample.label_names,
                      validation=(validation.spectra, validation.labels, validation.label_err))
        except TooFewStarsError as error:
            log.info("%d training stars: left out (%s)", size, error)
            continue
        log.info("%d training stars: trained in %.1f s", size, time.perf_counter() - start)
        parts.append(label_table(stars, *model.predict(stars.spectra), n_train=size))
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    parts.append(label_table(stars, *model.predict(stars.spectra), n_train=len(order)))
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)
