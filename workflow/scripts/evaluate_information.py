"""The efficiency of each method that reads the flux alone: the information bound over its RMSE at each S/N
of the ladder."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.information import evaluate_information

with log_to(snakemake.log[0]):
    evaluate_information(methods=snakemake.params.methods, feature_sets=snakemake.params.feature_sets,
                         prediction_paths=list(snakemake.input.predictions), fisher_path=snakemake.input.fisher,
                         labels=snakemake.params.labels, seed=snakemake.params.seed,
                         table_path=snakemake.output.table)
