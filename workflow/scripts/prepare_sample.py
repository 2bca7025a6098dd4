"""Quality cuts, masked labels, features and the frozen split."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.data import prepare_sample

with log_to(snakemake.log[0]):
    prepare_sample(library_path=snakemake.input.library, matches_path=snakemake.input.matches,
                   settings=snakemake.params.settings, sample_path=snakemake.output.sample,
                   split_path=snakemake.output.split)
