"""The archive download engine against a fake archive on 127.0.0.1."""

import hashlib

import pytest

from fake_archive import FakeArchive
from labeltransfer.io.remote import (ChecksumError, HTTPStatusError, OfflineError, RemoteFile, download,
                                     download_many, read_checksum_manifest)
from labeltransfer.io.wheel import DownloadError

DATA = bytes(range(256)) * 4000  # 1 MB: many chunks of the engine
FAST = dict(backoff=0.01, timeout=5, progress=False)


@pytest.fixture
def archive(tmp_path):
    with FakeArchive(tmp_path / "server") as server:
        yield server


def _md5(data):
    return "md5:" + hashlib.md5(data).hexdigest()


def test_full_download_is_verified_and_cached(archive, tmp_path):
    url = archive.put("dr17/allStar.fits", DATA)
    target = tmp_path / "out" / "allStar.fits"
    remote = RemoteFile(url, target, _md5(DATA))
    assert download(remote, **FAST) == target
    assert target.read_bytes() == DATA and not (tmp_path / "out" / "allStar.fits.part").exists()
    download(remote, **FAST)  # a verified copy is not fetched again
    assert len(archive.requests) == 1


def test_interrupted_download_resumes_with_a_range_request(archive, tmp_path):
    url = archive.put("spectra/a.fits", DATA)
    archive.cut_after["spectra/a.fits"] = 300_000
    target = tmp_path / "a.fits"
    download(RemoteFile(url, target, _md5(DATA)), **FAST)
    assert target.read_bytes() == DATA
    (first, no_range), (second, resumed) = archive.requests
    assert first == second == "spectra/a.fits" and no_range is None
    assert 0 < int(resumed.removeprefix("bytes=").rstrip("-")) <= 300_000  # bytes kept, not fetched again


def test_part_file_left_by_an_earlier_run_is_resumed(archive, tmp_path):
    url = archive.put("a.fits", DATA)
    (tmp_path / "a.fits.part").write_bytes(DATA[:1234])
    download(RemoteFile(url, tmp_path / "a.fits", _md5(DATA)), **FAST)
    assert (tmp_path / "a.fits").read_bytes() == DATA
    assert archive.requests == [("a.fits", "bytes=1234-")]


def test_server_that_ignores_range_gives_the_whole_file_again(archive, tmp_path):
    url = archive.put("a.fits", DATA)
    archive.ignore_range = True
    (tmp_path / "a.fits.part").write_bytes(b"stale bytes")
    download(RemoteFile(url, tmp_path / "a.fits"), **FAST)
    assert (tmp_path / "a.fits").read_bytes() == DATA


def test_corrupt_transfer_is_refused_and_fetched_again(archive, tmp_path):
    url = archive.put("a.fits", DATA)
    archive.corrupt["a.fits"] = b"x" * len(DATA)
    download(RemoteFile(url, tmp_path / "a.fits", _md5(DATA)), **FAST)
    assert (tmp_path / "a.fits").read_bytes() == DATA and len(archive.requests) == 2


def test_corrupt_file_on_disk_is_replaced(archive, tmp_path):
    url = archive.put("a.fits", DATA)
    (tmp_path / "a.fits").write_bytes(b"damaged")
    download(RemoteFile(url, tmp_path / "a.fits", _md5(DATA)), **FAST)
    assert (tmp_path / "a.fits").read_bytes() == DATA


def test_file_that_never_matches_its_checksum_fails_naming_both(archive, tmp_path):
    url = archive.put("a.fits", DATA)
    with pytest.raises(ChecksumError, match=r"a\.fits\.part: md5 [0-9a-f]{32} differs from the archive's 0{32}"):
        download(RemoteFile(url, tmp_path / "a.fits", "md5:" + "0" * 32), **FAST)
    assert not (tmp_path / "a.fits").exists() and not (tmp_path / "a.fits.part").exists()


def test_missing_file_names_url_and_status_without_retrying(archive, tmp_path):
    with pytest.raises(HTTPStatusError, match=r"http://127\.0\.0\.1:\d+/no/such\.fits: HTTP 404"):
        download(RemoteFile(f"{archive.url}/no/such.fits", tmp_path / "x.fits"), **FAST)
    assert len(archive.requests) == 1 and not (tmp_path / "x.fits").exists()


def test_connection_refused_is_retried_then_reported(tmp_path):
    with FakeArchive(tmp_path / "server") as gone:
        url = gone.url + "/a.fits"
    with pytest.raises(DownloadError, match=r"a\.fits: failed after 3 attempts"):
        download(RemoteFile(url, tmp_path / "a.fits"), retries=2, **FAST)


def test_offline_mode_uses_the_cache_or_lists_exactly_what_is_missing(archive, tmp_path):
    remotes = [RemoteFile(archive.put(f"s/{i}.fits", DATA[:100 + i]), tmp_path / f"{i}.fits") for i in range(4)]
    download_many(remotes[:2], max_workers=2, **FAST)
    archive.requests.clear()
    assert download_many(remotes[:2], offline=True) == [r.path for r in remotes[:2]]
    with pytest.raises(OfflineError, match=r"2 of 4 files are not on disk") as error:
        download_many(remotes, offline=True)
    assert "2.fits" in str(error.value) and "3.fits" in str(error.value) and "0.fits" not in str(error.value)
    assert archive.requests == []


def test_download_many_fetches_all_and_reports_every_failure(archive, tmp_path):
    remotes = [RemoteFile(archive.put(f"s/{i}.fits", DATA[: 1000 * (i + 1)]), tmp_path / f"{i}.fits")
               for i in range(6)]
    assert download_many(remotes, max_workers=3, **FAST) == [r.path for r in remotes]
    assert all(r.path.stat().st_size == 1000 * (i + 1) for i, r in enumerate(remotes))
    broken = [RemoteFile(f"{archive.url}/s/missing{i}.fits", tmp_path / f"m{i}.fits") for i in range(2)]
    with pytest.raises(DownloadError, match=r"2 of 8 downloads failed") as error:
        download_many(remotes + broken, max_workers=3, **FAST)
    assert "missing0.fits: HTTP 404" in str(error.value) and "missing1.fits: HTTP 404" in str(error.value)


def test_checksum_manifest_is_read_as_the_archives_publish_it():
    text = "d41d8cd98f00b204e9800998ecf8427e  XpContinuousMeanSpectrum_000000-003111.csv.gz\n\n"
    assert read_checksum_manifest(text) == {
        "XpContinuousMeanSpectrum_000000-003111.csv.gz": "md5:d41d8cd98f00b204e9800998ecf8427e"}
