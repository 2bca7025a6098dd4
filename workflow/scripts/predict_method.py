"""Label the test split with one trained method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.modelling import predict_method

with log_to(snakemake.log[0]):
    predict_method(
        snakemake.input.model,
        snakemake.input.sample,
        snakemake.input.split,
        snakemake.params.method,
        snakemake.params.colours,
        snakemake.threads,
        snakemake.resources.gpu,
        snakemake.output.predictions,
        snakemake.output.timing,
    )
