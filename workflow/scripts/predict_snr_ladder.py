"""Label the S/N ladder's noisier test spectra with one trained method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.snr_ladder import predict_snr_ladder

with log_to(snakemake.log[0]):
    predict_snr_ladder(**method_job(snakemake), model_path=snakemake.input.model, gpus=snakemake.resources.gpu,
                       levels=snakemake.params.ladder["levels"], max_stars=snakemake.params.ladder["max_stars"],
                       predictions_path=snakemake.output.predictions, noise_path=snakemake.input.get("noise"))
