"""The arguments that the jobs of one method share: its sample and split, settings, seed and threads."""


def method_job(snakemake):
    """Keyword arguments of train_method, predict_method and plot_ensemble_calibration common to all three."""
    return {"sample_path": snakemake.input.sample, "split_path": snakemake.input.split,
            "method": snakemake.params.method, "colours": snakemake.params.colours,
            "seed": snakemake.params.seed, "threads": snakemake.threads}
