"""One figure comparing every method (the {figure} wildcard names it)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.evaluation import plot_comparison

with log_to(snakemake.log[0]):
    plot_comparison(figure=snakemake.wildcards.figure, methods=snakemake.params.methods,
                    prediction_paths=snakemake.input.predictions, summary_path=snakemake.input.summary,
                    costs_path=snakemake.input.costs, labels=snakemake.params.labels,
                    figure_path=snakemake.output.figure)
