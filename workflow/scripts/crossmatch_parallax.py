"""Cross-match the library with the parallax catalogue on the sky."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.data import crossmatch_parallax

with log_to(snakemake.log[0]):
    crossmatch_parallax(
        snakemake.input.library,
        snakemake.input.catalogue,
        snakemake.params.radius_arcsec,
        snakemake.output.matches,
        snakemake.output.stats,
        snakemake.output.figure,
    )
