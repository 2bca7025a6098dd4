"""The LAMOST spectra of the matched stars, one file per obsid."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import fetch_lamost_spectra

with log_to(snakemake.log[0]):
    fetch_lamost_spectra(snakemake.input.matches, snakemake.params.spectrum_url,
                         snakemake.params.max_workers, snakemake.params.offline, snakemake.output.manifest)
