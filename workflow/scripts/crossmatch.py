"""The cross-match of one task (the library with the parallax catalogue, or the allStar stars with LAMOST)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.sample import crossmatch

with log_to(snakemake.log[0]):
    crossmatch(source=snakemake.params.source, inputs=dict(snakemake.input.items()),
               radius_arcsec=snakemake.params.radius_arcsec, lamost=snakemake.params.lamost,
               matches_path=snakemake.output.matches, stats_path=snakemake.output.stats)
