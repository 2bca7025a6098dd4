"""Every method's residuals against extinction, brightness and sky position at fixed reference labels."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.trends import evaluate_trends

with log_to(snakemake.log[0]):
    evaluate_trends(methods=snakemake.params.methods, prediction_paths=snakemake.input.predictions,
                    sample_path=snakemake.input.sample, labels=snakemake.params.labels, seed=snakemake.params.seed,
                    table_path=snakemake.output.table)
