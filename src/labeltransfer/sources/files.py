"""The files a source reads: manifests of downloaded files, and their checksums as provenance."""

import hashlib
from pathlib import Path

import pandas as pd

from ..io.checksums import file_checksum

__all__ = ["write_manifest", "read_manifest", "file_provenance", "manifest_provenance"]


def write_manifest(paths, manifest_path):
    """A CSV listing downloaded files (column ``path``): the output of a fetch rule."""
    pd.DataFrame({"path": [str(p) for p in paths]}).to_csv(manifest_path, index=False)


def read_manifest(manifest_path):
    """The paths a manifest written by ``write_manifest`` lists."""
    return [Path(p) for p in pd.read_csv(manifest_path)["path"]]


def file_provenance(path):
    """``{"path", "sha256"}`` of one input file."""
    return {"path": str(path), "sha256": file_checksum(path)}


def manifest_provenance(manifest_path):
    """``{"path", "n_files", "sha256"}`` of a manifest: the sha256 of its files' names and sha256s, in order."""
    digest = hashlib.sha256()
    paths = read_manifest(manifest_path)
    for path in paths:
        digest.update(f"{path.name} {file_checksum(path)}\n".encode())
    return {"path": str(manifest_path), "n_files": len(paths), "sha256": digest.hexdigest()}
