"""The S/N ladder: test stars made noisier, step by step, labelled by every method and scored at each
S/N; for a Gaia XP archive task the noise has each star's own XP covariance (the XP noise model).

The stars are up to ``max_stars`` test stars, drawn with the run's seed, the same for every method
(:func:`labeltransfer.data.split.draw_test_rows`)."""

import logging
import time

import numpy as np
import pandas as pd

from ..data.predictions import sample_predictions
from ..data.sample import LabelledSample
from ..data.split import draw_test_rows, read_split
from ..diagnostics.degrade import degrade_to_snr, snr_at_magnitudes
from ..evaluation.summary import curve_metrics
from ..methods.device import set_for_job
from ..sources.files import read_manifest
from ..xp.basis import design_matrix
from ..xp.continuous import read_xp_covariances
from ..xp.noise import XPNoise
from .files import read_predictions
from .jobs import CURVE_RESAMPLES, load_features, load_trained

__all__ = ["LADDER_MAGNITUDES", "xp_noise_model", "predict_snr_ladder", "evaluate_snr_ladder", "plot_snr_ladder"]

log = logging.getLogger(__name__)

#: G magnitudes whose typical S/N the ladder table and figure give.
LADDER_MAGNITUDES = (15.0, 16.0, 17.0)


def xp_noise_model(*, sample_path, split_path, manifest_path, seed, max_stars, noise_path):
    """The XP noise model (:class:`labeltransfer.xp.noise.XPNoise`) of the S/N ladder's test stars
    (the same draw) from their coefficients' errors and correlations in the task's XP files."""
    sample = LabelledSample.load(sample_path)
    stars = sample.subset(draw_test_rows(read_split(split_path, sample), max_stars, seed))
    covariances = read_xp_covariances(read_manifest(manifest_path), stars.source_id)
    XPNoise.from_covariances(design_matrix(stars.spectra.wavelength), covariances).save(noise_path, stars.source_id)
    log.info("XP noise model of %d test stars written", len(stars.apogee_id))


def predict_snr_ladder(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus, levels,
                       max_stars, predictions_path, noise_path=None):
    """Label the S/N ladder's noisier test spectra with one trained model.

    The test stars are degraded to each S/N of ``levels`` (:func:`labeltransfer.diagnostics.degrade.degrade_to_snr`,
    the noise seeded by the run's seed and the level: the same noisy spectra for every method);
    the table's ``level`` column says which. With ``noise_path`` (an ``XPNoise`` file of these
    stars, :func:`labeltransfer.pipeline.snr_ladder.xp_noise_model`) the noise has each star's own XP
    correlations; without, the pixels' noise is independent.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    noise = None if noise_path is None else XPNoise.load(noise_path, stars.source_id)
    log.info("the added noise: %s", "each star's XP covariance" if noise is not None else "independent pixels")
    parts = []
    for k, level in enumerate(levels):
        noisy, kept = degrade_to_snr(stars.spectra, level, np.random.default_rng([seed, k]), noise=noise)
        if not kept.any():
            log.info("S/N %g: no test star is that bright; left out", level)
            continue
        start = time.perf_counter()
        labels, sigma = model.predict(noisy)
        log.info("S/N %g: %d stars labelled in %.1f s", level, kept.sum(), time.perf_counter() - start)
        parts.append(sample_predictions(stars.subset(np.flatnonzero(kept)), labels, sigma, leading={"level": level}))
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)


def evaluate_snr_ladder(*, methods, prediction_paths, sample_path, labels, seed, table_path, magnitudes_path):
    """The ladder table (``curve_metrics`` by ``level``) and the S/N of stars of G = 15, 16, 17."""
    curve_metrics(read_predictions(methods, prediction_paths), labels, "level", n_resamples=CURVE_RESAMPLES,
                  seed=seed).to_csv(table_path, index=False)
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
