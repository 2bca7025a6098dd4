"""Scatter, bias and calibration of every method at each S/N of the ladder; the S/N of G = 15, 16, 17."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.snr_ladder import evaluate_snr_ladder

with log_to(snakemake.log[0]):
    evaluate_snr_ladder(methods=snakemake.params.methods, prediction_paths=snakemake.input.predictions,
                        sample_path=snakemake.input.sample, labels=snakemake.params.labels,
                        seed=snakemake.params.seed, table_path=snakemake.output.table,
                        magnitudes_path=snakemake.output.magnitudes)
