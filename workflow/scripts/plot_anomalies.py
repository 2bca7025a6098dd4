"""The anomalies figure: the worst-fitted spectra against The Cannon's model, and the stacked residual."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.anomalies import plot_anomalies

with log_to(snakemake.log[0]):
    plot_anomalies(spectra_path=snakemake.input.spectra, stacked_path=snakemake.input.stacked,
                   figure_path=snakemake.output.figure)
