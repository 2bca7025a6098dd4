"""APOGEE DR17 labels of the stars that pass the allStar quality cuts."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import read_labels

with log_to(snakemake.log[0]):
    read_labels(allstar_path=snakemake.input.allstar, label_names=snakemake.params.labels,
                cuts=snakemake.params.cuts, labels_path=snakemake.output.labels)
