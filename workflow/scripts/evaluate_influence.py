"""Where each method reads each label, against where The Cannon's model puts the information."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.influence import evaluate_influence

with log_to(snakemake.log[0]):
    evaluate_influence(methods=snakemake.params.methods, influence_paths=snakemake.input.tables,
                       pixels_path=snakemake.input.pixels, labels=snakemake.params.labels,
                       table_path=snakemake.output.table)
