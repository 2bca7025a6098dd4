"""Save the training set's side of one method's flags for the survey's chunk jobs."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.survey import write_survey_domain

with log_to(snakemake.log[0]):
    write_survey_domain(method=snakemake.wildcards.method, model_path=snakemake.input.model,
                           sample_path=snakemake.input.sample, split_path=snakemake.input.split,
                           seed=snakemake.params.seed, threads=snakemake.threads,
                           domain_path=snakemake.output.domain)
