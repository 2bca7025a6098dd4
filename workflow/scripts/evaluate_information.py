"""Each method's efficiency: the information bound over its scatter at each S/N of the ladder."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.information import evaluate_information

with log_to(snakemake.log[0]):
    evaluate_information(ladder_path=snakemake.input.ladder, bound_path=snakemake.input.bound,
                         labels=snakemake.params.labels, table_path=snakemake.output.table)
