"""Scatter of every method against the number of training stars."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.learning_curve import evaluate_learning_curve

with log_to(snakemake.log[0]):
    evaluate_learning_curve(methods=snakemake.params.methods, prediction_paths=snakemake.input.predictions,
                            labels=snakemake.params.labels, seed=snakemake.params.seed,
                            table_path=snakemake.output.table)
