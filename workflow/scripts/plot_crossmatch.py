"""The cross-match figure: separations to the nearest catalogue entry, with the match radius."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.sample import plot_separation

with log_to(snakemake.log[0]):
    plot_separation(matches_path=snakemake.input.matches, stats_path=snakemake.input.stats,
                    figure_path=snakemake.output.figure)
