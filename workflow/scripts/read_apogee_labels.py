"""APOGEE DR17 labels of the stars that pass the allStar quality cuts."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import read_labels

with log_to(snakemake.log[0]):
    read_labels(snakemake.input.allstar, snakemake.params.labels, snakemake.params.cuts,
                snakemake.output.labels)
