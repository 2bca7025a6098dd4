"""One method's survey catalogue chunks: a summary table and the figure of the labelled survey."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.survey import gather_survey

with log_to(snakemake.log[0]):
    gather_survey(catalogue_paths=snakemake.input.catalogues, labels=snakemake.params.labels,
                  method=snakemake.wildcards.method, summary_path=snakemake.output.summary,
                  figure_path=snakemake.output.figure)
