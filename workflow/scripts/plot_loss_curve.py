"""Loss curves of one neural method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.evaluation import plot_loss_curve

with log_to(snakemake.log[0]):
    plot_loss_curve(snakemake.input.timing, snakemake.wildcards.method, snakemake.output.figure)
