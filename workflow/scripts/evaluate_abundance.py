"""Whether each method measures [alpha/M] from the spectrum or infers it from its other labels."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.abundance import evaluate_abundance

with log_to(snakemake.log[0]):
    evaluate_abundance(methods=snakemake.params.methods, prediction_paths=snakemake.input.predictions,
                       sample_path=snakemake.input.sample, split_path=snakemake.input.split,
                       labels=snakemake.params.labels, seed=snakemake.params.seed, table_path=snakemake.output.table)
