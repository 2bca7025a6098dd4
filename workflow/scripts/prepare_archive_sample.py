"""The sample and frozen split of one archive task."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import prepare_archive_sample

with log_to(snakemake.log[0]):
    prepare_archive_sample(source=snakemake.params.source, labels_path=snakemake.input.labels,
                           spectra_manifest=snakemake.input.spectra, matches_path=snakemake.input.get("matches"),
                           lamost=snakemake.params.lamost, settings=snakemake.params.settings,
                           sample_path=snakemake.output.sample, split_path=snakemake.output.split)
