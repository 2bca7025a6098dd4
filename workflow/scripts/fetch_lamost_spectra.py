"""The LAMOST spectra of the matched stars, one file per obsid."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import fetch_lamost_spectra

with log_to(snakemake.log[0]):
    fetch_lamost_spectra(matches_path=snakemake.input.matches, spectrum_url=snakemake.params.spectrum_url,
                         token_env=snakemake.params.token_env, max_workers=snakemake.params.max_workers, timeout=snakemake.params.timeout,
                         offline=snakemake.params.offline, manifest_path=snakemake.output.manifest)
