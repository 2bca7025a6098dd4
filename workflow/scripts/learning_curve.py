"""Train one method on nested subsets of the training split and label test stars with each model."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.learning_curve import learning_curve

with log_to(snakemake.log[0]):
    learning_curve(**method_job(snakemake), model_path=snakemake.input.model, gpus=snakemake.resources.gpu,
                   sizes=snakemake.params.curve["sizes"], max_stars=snakemake.params.curve["max_stars"],
                   predictions_path=snakemake.output.predictions)
