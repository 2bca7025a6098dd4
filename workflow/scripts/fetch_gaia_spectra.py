"""Gaia DR3 XP or RVS spectra of the labelled stars (DataLink batches)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import fetch_gaia_spectra

with log_to(snakemake.log[0]):
    fetch_gaia_spectra(snakemake.input.sources, snakemake.wildcards.product,
                       snakemake.params.gaia["data_url"], snakemake.params.gaia["datalink_batch_size"],
                       snakemake.params.max_workers, snakemake.params.offline, snakemake.output.manifest)
