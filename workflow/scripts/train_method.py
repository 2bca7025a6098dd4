"""Train one method on the training split."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.modelling import train_method

with log_to(snakemake.log[0]):
    train_method(
        snakemake.input.sample,
        snakemake.input.split,
        snakemake.params.method,
        snakemake.params.colours,
        snakemake.params.seed,
        snakemake.threads,
        snakemake.resources.gpu,
        snakemake.output.model,
        snakemake.output.timing,
    )
