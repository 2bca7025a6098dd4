"""Train one method on the training split."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.training import train_method

with log_to(snakemake.log[0]):
    train_method(**method_job(snakemake), gpus=snakemake.resources.gpu, model_path=snakemake.output.model,
                 timing_path=snakemake.output.timing)
