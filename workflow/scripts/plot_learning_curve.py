"""The learning-curve figure."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.learning_curve import plot_learning_curve

with log_to(snakemake.log[0]):
    plot_learning_curve(table_path=snakemake.input.table, labels=snakemake.params.labels,
                        figure_path=snakemake.output.figure)
