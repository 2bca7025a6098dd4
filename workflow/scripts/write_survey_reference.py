"""Save the training set's side of one method's flags for the survey's chunk jobs."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.survey_stage import write_survey_reference

with log_to(snakemake.log[0]):
    write_survey_reference(method=snakemake.wildcards.method, model_path=snakemake.input.model,
                           sample_path=snakemake.input.sample, split_path=snakemake.input.split,
                           seed=snakemake.params.seed, threads=snakemake.threads,
                           reference_path=snakemake.output.reference)
