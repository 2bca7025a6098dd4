"""The influence figure: where each method reads each label, and where the information is."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.influence import plot_influence

with log_to(snakemake.log[0]):
    plot_influence(methods=snakemake.params.methods, influence_paths=snakemake.input.tables,
                   pixels_path=snakemake.input.pixels, labels=snakemake.params.labels,
                   figure_path=snakemake.output.figure)
