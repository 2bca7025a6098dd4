"""Checksums of downloaded files, and the errors of every download.

Archives publish checksums as ``md5sum`` / ``sha1sum`` manifests; the workflow writes them as
``"algorithm:hex"`` (``"md5:..."``, ``"sha1:..."``, ``"sha256:..."``).
"""

import hashlib
import re

__all__ = ["DownloadError", "ChecksumError", "file_checksum", "read_checksum_manifest", "verify_checksum"]


class DownloadError(RuntimeError):
    """A download that failed, or a file whose checksum or format is wrong."""


class ChecksumError(DownloadError):
    """A downloaded file does not match the checksum the archive publishes."""


def file_checksum(path, algorithm="sha256"):
    """Hex digest of a file with ``algorithm`` (``"md5"``, ``"sha1"``, ``"sha256"``, ...)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


#: Hash algorithms of the checksum manifests, by the length of their hex digest.
_ALGORITHM_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}


def read_checksum_manifest(text):
    """``{file name: "algorithm:hex"}`` from an ``md5sum`` / ``sha1sum`` style manifest.

    Each line is ``<hex>  <name>`` (``*<name>`` in binary mode), as in the Gaia archive's
    ``_MD5SUM.txt`` and the SDSS science archive's ``*.sha1sum`` files; the algorithm follows
    from the length of the digest (32 hex digits: md5, 40: sha1, 64: sha256). Other lines
    (blank, comments) are skipped.
    """
    checksums = {}
    for line in text.splitlines():
        match = re.fullmatch(r"\s*([0-9a-fA-F]+)\s+\*?(\S.*?)\s*", line)
        if match and len(match[1]) in _ALGORITHM_BY_LENGTH:
            checksums[match[2]] = f"{_ALGORITHM_BY_LENGTH[len(match[1])]}:{match[1].lower()}"
    return checksums


def verify_checksum(path, checksum):
    """Raise ChecksumError when ``path`` does not match ``checksum`` (no checksum: pass)."""
    if not checksum:
        return
    algorithm, _, expected = checksum.partition(":")
    actual = file_checksum(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(f"{path}: {algorithm} {actual} differs from the archive's {expected}")
