"""Loss curves of one neural method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.neural import plot_loss_curve

with log_to(snakemake.log[0]):
    plot_loss_curve(timing_path=snakemake.input.timing, method=snakemake.wildcards.method,
                    figure_path=snakemake.output.figure)
