"""Metrics of every method on the test split, and their costs."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.evaluation import evaluate_methods

with log_to(snakemake.log[0]):
    evaluate_methods(
        snakemake.params.methods,
        snakemake.input.predictions,
        snakemake.input.fit,
        snakemake.input.predict,
        snakemake.params.labels,
        snakemake.params.snr_bins,
        snakemake.output.summary,
        snakemake.output.table,
        snakemake.output.costs,
    )
