"""Metrics of every method on the test split, with bootstrap intervals and paired comparisons, and their costs."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.evaluation import evaluate_methods

with log_to(snakemake.log[0]):
    evaluate_methods(
        methods=snakemake.params.methods,
        prediction_paths=snakemake.input.predictions,
        fit_paths=snakemake.input.fit,
        predict_paths=snakemake.input.predict,
        sample_path=snakemake.input.sample,
        labels=snakemake.params.labels,
        snr_bins=snakemake.params.snr_bins,
        teff_bins=snakemake.params.teff_bins,
        seed=snakemake.params.seed,
        summary_path=snakemake.output.summary,
        comparison_path=snakemake.output.comparison,
        table_path=snakemake.output.table,
        costs_path=snakemake.output.costs,
        ood_path=snakemake.output.ood,
    )
