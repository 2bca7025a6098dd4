"""Quality cuts, masked labels, features and the frozen split."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.data import prepare_sample

with log_to(snakemake.log[0]):
    prepare_sample(snakemake.input.library, snakemake.input.matches, snakemake.params.settings,
                   snakemake.output.sample, snakemake.output.split)
