"""The residual-trends figure."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.trends import plot_residual_trends

with log_to(snakemake.log[0]):
    plot_residual_trends(methods=snakemake.params.methods, table_path=snakemake.input.table,
                         labels=snakemake.params.labels, figure_path=snakemake.output.figure)
