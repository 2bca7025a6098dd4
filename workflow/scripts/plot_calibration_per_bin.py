"""Every method's coverage within 1 and 2 sigma per S/N and Teff bin, from the summary table."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.evaluation import plot_calibration_per_bin

with log_to(snakemake.log[0]):
    plot_calibration_per_bin(summary_path=snakemake.input.summary, labels=snakemake.params.labels,
                             figure_path=snakemake.output.figure)
