"""The test stars ranked by The Cannon's misfit, the worst ones' spectra, and the stacked residual."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.anomalies import cannon_anomalies

with log_to(snakemake.log[0]):
    cannon_anomalies(model_path=snakemake.input.model, sample_path=snakemake.input.sample,
                     split_path=snakemake.input.split, method=snakemake.params.method,
                     colours=snakemake.params.colours, seed=snakemake.params.seed, n_top=snakemake.params.n_top,
                     ranking_path=snakemake.output.ranking, spectra_path=snakemake.output.spectra,
                     stacked_path=snakemake.output.stacked)
