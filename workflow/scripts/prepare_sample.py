"""The sample (quality cuts, masked labels, features) and frozen split of one task, whatever its source."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.sample import prepare_sample

with log_to(snakemake.log[0]):
    prepare_sample(source=snakemake.params.source, inputs=dict(snakemake.input.items()),
                   lamost=snakemake.params.lamost, settings=snakemake.params.settings,
                   sample_path=snakemake.output.sample, split_path=snakemake.output.split)
