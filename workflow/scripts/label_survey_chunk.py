"""Label one survey chunk with every selected trained method: one catalogue per method."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.survey import label_chunk

with log_to(snakemake.log[0]):
    label_chunk(chunk_path=snakemake.input.chunk, model_paths=snakemake.input.models,
                domain_paths=snakemake.input.domains, methods=snakemake.params.methods,
                block_rows=snakemake.params.block_rows, threads=snakemake.threads,
                metadata=snakemake.params.metadata, catalogue_paths=snakemake.output.catalogues)
