"""One-to-one figure of one method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.prediction import plot_one_to_one

with log_to(snakemake.log[0]):
    plot_one_to_one(predictions_path=snakemake.input.predictions, method=snakemake.wildcards.method,
                    labels=snakemake.params.labels, figure_path=snakemake.output.figure)
