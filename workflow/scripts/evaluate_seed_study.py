"""The default study's metrics over several split seeds: mean, spread between seeds, claims on every seed."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.seed_study import evaluate_seed_study

with log_to(snakemake.log[0]):
    evaluate_seed_study(
        tasks=snakemake.params.tasks,
        seeds=snakemake.params.seeds,
        summary_paths=snakemake.input.summaries,
        comparison_paths=snakemake.input.comparisons,
        labels=snakemake.params.labels,
        spread_path=snakemake.output.spread,
        claims_path=snakemake.output.claims,
        table_path=snakemake.output.table,
    )
