"""Download the survey's checksum manifest, or one chunk it lists (verified against it)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.survey import fetch_survey_file

with log_to(snakemake.log[0]):
    fetch_survey_file(url=snakemake.params.url, path=snakemake.output[0], timeout=snakemake.params.timeout,
                      manifest_path=snakemake.input.get("manifest"))
