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
from ..metrics import GIANT_LOGG
from .modelling import label_table, load_features, load_trained, set_for_job

__all__ = ["XP_SOURCES", "XP_COEFFICIENTS", "predict_snr_ladder", "learning_curve", "information_bound"]

log = logging.getLogger(__name__)

#: Sources whose spectra are Gaia XP spectra sampled from their coefficients.
XP_SOURCES = ("xp_library", "gaia_xp")
#: Coefficients behind an XP sampled spectrum (55 BP + 55 RP): at most this many independent
#: numbers, so that pixels taken as independent overstate the information.
XP_COEFFICIENTS = 110


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


def information_bound(*, model_path, sample_path, split_path, method, colours, seed, levels, max_stars, bound_path,
                      pixels_path):
    """The Cramer-Rao bound of the ladder's test stars at each S/N, from a trained Cannon's model.

    The stars are those of :func:`predict_snr_ladder` (the same draw, a level holding the stars
    at least that bright) with every reference label; each star's Fisher matrix is evaluated at
    its reference labels with its flux errors scaled to the level
    (:meth:`labeltransfer.methods.cannon_information.LabelInformation.label_information`). The
    bound takes the pixels as independent; for XP spectra, which are sampled from at most
    ``XP_COEFFICIENTS`` numbers, ``<label>_bound_correlated`` is the bound times
    sqrt(n_pixels / XP_COEFFICIENTS), what it would be were the information only that of as
    many independent numbers as there are coefficients (the real bound lies between the two).
    The pixel table gives, at the stars' own S/N, each pixel's share of each label's information
    (the diagonal of the Fisher matrix), median over giants and over dwarfs.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    stars = sample.subset(_test_rows(rows, max_stars, seed))
    stars = stars.subset(np.flatnonzero(np.all(np.isfinite(stars.labels), axis=1)))
    n_pixels = stars.spectra.flux.shape[1]
    xp = sample.provenance.get("source") in XP_SOURCES
    correlation = np.sqrt(n_pixels / XP_COEFFICIENTS) if xp and n_pixels > XP_COEFFICIENTS else 1.0
    parts = []
    for level in levels:
        kept = np.flatnonzero(stars.snr >= level)
        if not kept.size:
            continue
        fisher = model.label_information(stars.spectra.subset(kept), stars.labels[kept],
                                         noise_factor=stars.snr[kept] / level).sum(axis=1)
        bound = np.sqrt(np.diagonal(np.linalg.pinv(fisher), axis1=1, axis2=2))
        table = pd.DataFrame({"level": level, "apogee_id": stars.ids[kept], "snr": stars.snr[kept]})
        for k, name in enumerate(stars.label_names):
            table[f"{name}_bound"], table[f"{name}_bound_correlated"] = bound[:, k], correlation * bound[:, k]
        parts.append(table)
        log.info("S/N %g: median bound %s", level, dict(zip(stars.label_names, np.round(np.median(bound, 0), 4))))
    pd.concat(parts, ignore_index=True).to_csv(bound_path, index=False)
    per_pixel = np.diagonal(model.label_information(stars.spectra, stars.labels), axis1=2, axis2=3)
    share = per_pixel / per_pixel.sum(axis=1, keepdims=True)
    giants = stars.labels[:, list(stars.label_names).index("logg")] < GIANT_LOGG if "logg" in stars.label_names else None
    pixels = pd.DataFrame({"wavelength": stars.spectra.wavelength})
    for subset, mask in (("giants", giants), ("dwarfs", None if giants is None else ~giants)):
        if mask is None or not mask.any():
            continue
        for k, name in enumerate(stars.label_names):
            pixels[f"{subset}_{name}"] = np.median(share[mask, :, k], axis=0)
    pixels.to_csv(pixels_path, index=False)
