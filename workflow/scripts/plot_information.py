"""The information figure: each flux-only method's efficiency against S/N, and the information per pixel."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.information import plot_information

with log_to(snakemake.log[0]):
    plot_information(table_path=snakemake.input.table, pixels_path=snakemake.input.pixels,
                     methods=snakemake.params.methods, feature_sets=snakemake.params.feature_sets,
                     labels=snakemake.params.labels, figure_path=snakemake.output.figure)
