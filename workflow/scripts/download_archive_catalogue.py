"""Download one archive catalogue (the allStar file or the LAMOST catalogue)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import fetch_file

with log_to(snakemake.log[0]):
    fetch_file(url=snakemake.params.url, checksum=snakemake.params.checksum, path=snakemake.output.catalogue,
               offline=snakemake.params.offline, timeout=snakemake.params.timeout)
