"""The Cramer-Rao bound of the S/N ladder's test stars, from a trained Cannon's model."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.information import information_bound

with log_to(snakemake.log[0]):
    information_bound(model_path=snakemake.input.model, sample_path=snakemake.input.sample,
                      split_path=snakemake.input.split, method=snakemake.params.method,
                      colours=snakemake.params.colours, seed=snakemake.params.seed,
                      levels=snakemake.params.ladder["levels"], max_stars=snakemake.params.ladder["max_stars"],
                      bound_path=snakemake.output.bound, pixels_path=snakemake.output.pixels)
