"""Gaia DR3 XP or RVS spectra of the labelled stars (DataLink batches)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import fetch_gaia_spectra

with log_to(snakemake.log[0]):
    fetch_gaia_spectra(sources_path=snakemake.input.sources, product=snakemake.wildcards.product,
                       gaia=snakemake.params.gaia, max_workers=snakemake.params.max_workers,
                       timeout=snakemake.params.timeout, offline=snakemake.params.offline,
                       manifest_path=snakemake.output.manifest)
