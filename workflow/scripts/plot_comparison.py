"""One figure comparing every method (the {figure} wildcard names it)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.evaluation import plot_comparison

with log_to(snakemake.log[0]):
    plot_comparison(
        snakemake.wildcards.figure,
        snakemake.params.methods,
        snakemake.input.predictions,
        snakemake.input.summary,
        snakemake.input.costs,
        snakemake.params.labels,
        snakemake.output.figure,
    )
