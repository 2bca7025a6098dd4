"""The information bound of the S/N ladder's stars under a trained spectrum model (the Payne's emulator)."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.information import information_bound

with log_to(snakemake.log[0]):
    information_bound(model_path=snakemake.input.model, sample_path=snakemake.input.sample,
                      split_path=snakemake.input.split, method=snakemake.params.method,
                      model_name=snakemake.params.model_name, colours=snakemake.params.colours,
                      seed=snakemake.params.seed, levels=snakemake.params.ladder["levels"],
                      max_stars=snakemake.params.ladder["max_stars"], fisher_path=snakemake.output.fisher,
                      bound_path=snakemake.output.bound, prior_path=snakemake.output.prior,
                      pixels_path=snakemake.output.pixels, noise_path=snakemake.input.get("noise"))
