"""The S/N ladder: test stars made fainter, step by step, labelled by every method and scored at each
S/N, over all stars and per type of star (:data:`TEFF_SPLIT`, ``GIANT_LOGG``).

At each level the spectrum gets noise with XP's correlations (each star's own XP covariance for a
Gaia XP archive task, the real template for the library's sampled spectra, independent pixels for
other spectra) and the colours and parallax the noise of a star as much fainter as the S/N says
(:mod:`labeltransfer.diagnostics.degrade`). The stars are up to ``max_stars`` test stars, drawn
with the run's seed, the same for every method (:func:`labeltransfer.data.split.draw_test_rows`)."""

import logging
import time

import numpy as np
import pandas as pd

from ..data.predictions import sample_predictions
from ..data.sample import LabelledSample
from ..data.split import draw_test_rows, read_split
from ..diagnostics.degrade import degrade_to_snr, fainter_features, snr_at_magnitudes, snr_slope
from ..evaluation.summary import curve_metrics
from ..methods.device import set_for_job
from ..sources.files import read_manifest
from ..xp.basis import design_matrix
from ..xp.continuous import read_xp_covariances
from ..xp.covariance_template import template_factor
from ..xp.noise import XPNoise
from .files import read_predictions
from .jobs import CURVE_RESAMPLES, XP_SOURCES, load_features, load_trained

__all__ = ["LADDER_MAGNITUDES", "TEFF_SPLIT", "TYPE_SUBSETS", "xp_noise_model", "ladder_noise", "predict_snr_ladder",
           "ladder_metrics", "evaluate_snr_ladder", "plot_snr_ladder"]

log = logging.getLogger(__name__)

#: G magnitudes whose typical S/N the ladder table and figure give.
LADDER_MAGNITUDES = (15.0, 16.0, 17.0)
#: Reference Teff (K) that splits cool stars (below) from warm ones: M and late-K giants and dwarfs,
#: whose XP spectra carry molecular bands, against the rest (the red clump is warmer).
TEFF_SPLIT = 4500.0
#: The per-type subsets of the ladder table, besides all, giants and dwarfs.
TYPE_SUBSETS = ("cool", "cool_giants", "cool_dwarfs", "warm", "warm_giants", "warm_dwarfs")


def xp_noise_model(*, sample_path, split_path, manifest_path, seed, max_stars, noise_path):
    """The XP noise model (:class:`labeltransfer.xp.noise.XPNoise`) of the S/N ladder's test stars
    (the same draw) from their coefficients' errors and correlations in the task's XP files."""
    sample = LabelledSample.load(sample_path)
    stars = sample.subset(draw_test_rows(read_split(split_path, sample), max_stars, seed))
    covariances = read_xp_covariances(read_manifest(manifest_path), stars.source_id)
    XPNoise.from_covariances(design_matrix(stars.spectra.wavelength), covariances).save(noise_path, stars.source_id)
    log.info("XP noise model of %d test stars written", len(stars.apogee_id))


def ladder_noise(sample, stars, noise_path=None):
    """The XP noise model of the ladder's ``stars``: each star's own from ``noise_path`` (an ``XPNoise``
    file, :func:`xp_noise_model`), else the template for a sample of Gaia XP spectra
    (:func:`labeltransfer.xp.covariance_template.template_factor`), else None (independent pixels)."""
    if noise_path is not None:
        return XPNoise.load(noise_path, stars.source_id)
    if sample.provenance.get("source") in XP_SOURCES:
        return XPNoise(design_matrix(stars.spectra.wavelength), template_factor())
    return None


def predict_snr_ladder(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus, levels,
                       max_stars, predictions_path, noise_path=None):
    """Label the S/N ladder's noisier test stars with one trained model.

    The test stars are degraded to each S/N of ``levels``: the spectra by
    :func:`labeltransfer.diagnostics.degrade.degrade_to_snr` with the noise of :func:`ladder_noise`,
    the colours and parallax by :func:`labeltransfer.diagnostics.degrade.fainter_features` for a star
    ``log10(s / t) / beta`` mag fainter, ``beta`` the slope of the whole sample's S/N-G relation
    (:func:`labeltransfer.diagnostics.degrade.snr_slope`). The noise is seeded by the run's seed and
    the level: the same noisy stars for every method; the table's ``level`` column says which.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    noise = ladder_noise(sample, stars, noise_path)
    beta = snr_slope(sample.snr, sample.g_mag)
    kind = ("independent pixels" if noise is None else "the XP template's correlations" if noise_path is None
            else "each star's XP covariance")
    log.info("the added noise: %s; the S/N-G relation: %.3f dex per mag", kind, beta)
    if stars.spectra.aux_names and not np.isfinite(beta):
        raise ValueError(f"{sample_path}: no falling S/N-G relation in the sample (snr_slope), so the ladder cannot "
                         "say how much fainter a star is: label the flux alone (feature_set: flux)")
    parts = []
    for k, level in enumerate(levels):
        noisy, kept = degrade_to_snr(stars.spectra, level, np.random.default_rng([seed, k]), noise=noise)
        if not kept.any():
            log.info("S/N %g: no test star is that bright; left out", level)
            continue
        if stars.spectra.aux_names:
            fainter_by = np.log10(stars.spectra.snr()[kept] / level) / beta
            noisy = fainter_features(noisy, stars.g_mag[kept], fainter_by, np.random.default_rng([seed, k, 1]))
            log.info("S/N %g: colours and parallax of stars fainter by %.1f mag (median)", level, np.median(fainter_by))
        start = time.perf_counter()
        labels, sigma = model.predict(noisy)
        log.info("S/N %g: %d stars labelled in %.1f s", level, kept.sum(), time.perf_counter() - start)
        parts.append(sample_predictions(stars.subset(np.flatnonzero(kept)), labels, sigma, leading={"level": level}))
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)


def ladder_metrics(predictions, labels, seed):
    """The ladder table: :func:`labeltransfer.evaluation.summary.curve_metrics` by ``level`` over all
    stars, giants and dwarfs, then, where the predictions have ``teff_ref``, the same for the cool
    (reference Teff below :data:`TEFF_SPLIT`) and the warm stars, subsets named as in
    :data:`TYPE_SUBSETS` (``cool``, ``cool_giants``, ...), each type's bootstrap seeded apart."""
    parts = [curve_metrics(predictions, labels, "level", n_resamples=CURVE_RESAMPLES, seed=seed)]
    if all("teff_ref" in table for table in predictions.values()):
        for k, name in enumerate(("cool", "warm")):
            chosen = {method: table[(table["teff_ref"] < TEFF_SPLIT) == (name == "cool")]  # Teff: a required label
                      for method, table in predictions.items()}
            part = curve_metrics(chosen, labels, "level", n_resamples=CURVE_RESAMPLES, seed=[seed, k + 1])
            part["subset"] = part["subset"].map({"all": name, "giants": f"{name}_giants", "dwarfs": f"{name}_dwarfs"})
            parts.append(part)
    else:
        log.info("no reference Teff in the predictions: the ladder has no cool / warm subsets")
    return pd.concat(parts, ignore_index=True)


def evaluate_snr_ladder(*, methods, prediction_paths, sample_path, labels, seed, table_path, magnitudes_path):
    """The ladder table (:func:`ladder_metrics`) and the S/N of stars of G = 15, 16, 17 (the line fitted to
    the monotone part of the sample's S/N-G relation, :func:`labeltransfer.diagnostics.degrade.snr_at_magnitudes`)."""
    ladder_metrics(read_predictions(methods, prediction_paths), labels, seed).to_csv(table_path, index=False)
    sample = LabelledSample.load(sample_path)
    snr = snr_at_magnitudes(sample.snr, sample.g_mag, LADDER_MAGNITUDES)
    log.info("typical S/N at G = %s: %s", LADDER_MAGNITUDES, np.round(snr, 1).tolist())
    pd.DataFrame({"g_mag": LADDER_MAGNITUDES, "snr": snr}).to_csv(magnitudes_path, index=False)


def plot_snr_ladder(*, table_path, magnitudes_path, labels, figure_path):
    """The ladder figure (:func:`labeltransfer.diagnostics.plots.snr_ladder`)."""
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    figure = diagnostic_plots.snr_ladder(pd.read_csv(table_path), pd.read_csv(magnitudes_path), labels)
    plots.save(figure, figure_path)
