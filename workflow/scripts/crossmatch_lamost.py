"""The best LAMOST spectrum of each labelled star."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import crossmatch_lamost

with log_to(snakemake.log[0]):
    crossmatch_lamost(labels_path=snakemake.input.labels, catalogue_path=snakemake.input.catalogue,
                      sources_path=snakemake.input.sources, settings=snakemake.params.lamost,
                      matches_path=snakemake.output.matches, stats_path=snakemake.output.stats,
                      figure_path=snakemake.output.figure)
