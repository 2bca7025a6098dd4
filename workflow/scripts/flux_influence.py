"""Where in the spectrum a trained method reads each label: each pixel's share of its flux influence."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.influence import flux_influence

with log_to(snakemake.log[0]):
    flux_influence(model_path=snakemake.input.model, **method_job(snakemake), max_stars=snakemake.params.max_stars,
                   table_path=snakemake.output.table)
