"""Retrain one method on the pixels of each configured band alone and label test stars with each model."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.wavelength_subsets import wavelength_subsets

with log_to(snakemake.log[0]):
    subsets = snakemake.params.subsets
    wavelength_subsets(**method_job(snakemake), model_path=snakemake.input.model, gpus=snakemake.resources.gpu,
                       bands=subsets["bands"], train_size=subsets["train_size"], max_stars=subsets["max_stars"],
                       predictions_path=snakemake.output.predictions)
