"""Gaia DR3 astrometry and spectra flags of the labelled stars (TAP)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import query_gaia

with log_to(snakemake.log[0]):
    query_gaia(labels_path=snakemake.input.labels, tap_url=snakemake.params.gaia["tap_url"],
               batch_size=snakemake.params.gaia["tap_batch_size"], timeout=snakemake.params.timeout,
               sources_path=snakemake.output.sources)
