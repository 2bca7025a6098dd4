"""Residual / sigma of one network against the ensemble (tails, width per S/N bin), one neural method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.modelling import plot_ensemble_calibration

with log_to(snakemake.log[0]):
    plot_ensemble_calibration(
        snakemake.input.model,
        snakemake.input.sample,
        snakemake.input.split,
        snakemake.params.method,
        snakemake.params.colours,
        snakemake.params.snr_bins,
        snakemake.threads,
        snakemake.output.figure,
    )
