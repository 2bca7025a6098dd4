"""Label the test split with one trained method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.prediction import predict_method

with log_to(snakemake.log[0]):
    predict_method(**method_job(snakemake), model_path=snakemake.input.model, gpus=snakemake.resources.gpu,
                   predictions_path=snakemake.output.predictions, timing_path=snakemake.output.timing)
