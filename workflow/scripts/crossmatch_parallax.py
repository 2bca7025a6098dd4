"""Cross-match the library with the parallax catalogue on the sky."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.data import crossmatch_parallax

with log_to(snakemake.log[0]):
    crossmatch_parallax(library_path=snakemake.input.library, catalogue_path=snakemake.input.catalogue,
                        radius_arcsec=snakemake.params.radius_arcsec, matches_path=snakemake.output.matches,
                        stats_path=snakemake.output.stats, figure_path=snakemake.output.figure)
