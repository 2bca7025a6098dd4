"""The sample and frozen split of one archive task."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import prepare_archive_sample

with log_to(snakemake.log[0]):
    prepare_archive_sample(snakemake.params.source, snakemake.input.labels, snakemake.input.spectra,
                           snakemake.input.get("matches"), snakemake.params.lamost, snakemake.params.settings,
                           snakemake.output.sample, snakemake.output.split)
