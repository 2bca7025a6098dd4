"""The S/N ladder figure."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.snr_ladder import plot_snr_ladder

with log_to(snakemake.log[0]):
    plot_snr_ladder(table_path=snakemake.input.table, magnitudes_path=snakemake.input.magnitudes,
                    labels=snakemake.params.labels, figure_path=snakemake.output.figure)
