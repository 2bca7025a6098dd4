"""The XP noise model of a Gaia XP task's S/N-ladder stars, from their coefficients' covariances."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.snr_ladder import xp_noise_model

with log_to(snakemake.log[0]):
    xp_noise_model(sample_path=snakemake.input.sample, split_path=snakemake.input.split,
                   manifest_path=snakemake.input.manifest, seed=snakemake.params.seed,
                   max_stars=snakemake.params.max_stars, noise_path=snakemake.output.noise)
