"""How much each method loses when it sees one part of the spectrum alone."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.wavelength_subsets import evaluate_wavelength_subsets

with log_to(snakemake.log[0]):
    evaluate_wavelength_subsets(methods=snakemake.params.methods, prediction_paths=snakemake.input.predictions,
                                labels=snakemake.params.labels, seed=snakemake.params.seed,
                                table_path=snakemake.output.table)
