"""Residual / sigma of one network against the ensemble (tails, width per S/N bin), one neural method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.neural import plot_ensemble_calibration

with log_to(snakemake.log[0]):
    plot_ensemble_calibration(**method_job(snakemake), model_path=snakemake.input.model,
                              snr_bins=snakemake.params.snr_bins, figure_path=snakemake.output.figure)
