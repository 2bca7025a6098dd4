"""The best LAMOST spectrum of each labelled star."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import crossmatch_lamost

with log_to(snakemake.log[0]):
    crossmatch_lamost(snakemake.input.labels, snakemake.input.catalogue, snakemake.input.sources,
                      snakemake.params.lamost, snakemake.output.matches, snakemake.output.stats,
                      snakemake.output.figure)
