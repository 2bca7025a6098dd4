"""Download one archive catalogue (the allStar file or the LAMOST catalogue)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import fetch_file

with log_to(snakemake.log[0]):
    fetch_file(snakemake.params.url, snakemake.params.checksum, snakemake.output.catalogue,
               snakemake.params.offline)
