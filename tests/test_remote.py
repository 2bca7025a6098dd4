"""The archive download engine against a fake archive on 127.0.0.1."""

import gzip
import hashlib
import io
import zipfile

import pandas as pd
import pytest

from fake_archive import FakeArchive, ServiceError
from labeltransfer.io.checksums import ChecksumError, DownloadError, read_checksum_manifest
from labeltransfer.io.remote import HTTPStatusError, OfflineError, RemoteFile, download, download_many
from labeltransfer.logs import log_to
from labeltransfer.pipeline.archives import fetch_lamost_spectra

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


def test_checksum_manifests_of_gaia_and_sdss_are_read():
    gaia = ("d41d8cd98f00b204e9800998ecf8427e  XpContinuousMeanSpectrum_000000-003111.csv.gz\n\n"
            "# a comment line\n0123456789abcdef0123456789ABCDEF *_disclaimer.txt\n")
    assert read_checksum_manifest(gaia) == {
        "XpContinuousMeanSpectrum_000000-003111.csv.gz": "md5:d41d8cd98f00b204e9800998ecf8427e",
        "_disclaimer.txt": "md5:0123456789abcdef0123456789abcdef"}
    sdss = "7aa2f381de0e8e246f9833cc7da540ef45096702  allStar-dr17-synspec_rev1.fits\n"
    assert read_checksum_manifest(sdss) == {"allStar-dr17-synspec_rev1.fits": "sha1:7aa2f381de0e8e246f9833cc7da540ef45096702"}


def test_sha1_checksum_as_sdss_publishes_it_is_checked(archive, tmp_path):
    url = archive.put("allStar.fits", DATA)
    download(RemoteFile(url, tmp_path / "a.fits", "sha1:" + hashlib.sha1(DATA).hexdigest()), **FAST)
    with pytest.raises(ChecksumError, match=r"b\.fits\.part: sha1 [0-9a-f]{40} differs from the archive's"):
        download(RemoteFile(url, tmp_path / "b.fits", "sha1:" + "0" * 40), **FAST)


def _service(data, content_type="application/zip"):
    return lambda form: (content_type, data)


def _zip_bytes(size):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # stored: the size is that of the data
        archive.writestr(zipfile.ZipInfo("XP_CONTINUOUS_RAW.csv", (2026, 1, 1, 0, 0, 0)), DATA[:size])
    return buffer.getvalue()


def test_error_body_is_shown_and_a_transient_error_retried(archive, tmp_path):
    def busy(form):
        raise ServiceError(503, "<html><body><h1>Service Unavailable</h1><p>Back at 14:00 UTC</p></body></html>")
    archive.services["data"] = busy
    with pytest.raises(HTTPStatusError, match=r"HTTP 503 .*the server says: <html>.*Back at 14:00 UTC"):
        download(RemoteFile(f"{archive.url}/data", tmp_path / "x.zip", form={"ID": "1"}), retries=2, **FAST)
    assert len(archive.requests) == 3  # retried: the body does not say the request is wrong


def test_html_error_pages_are_quoted_without_their_tags(archive, tmp_path):
    with pytest.raises(HTTPStatusError, match=r"HTTP 404 Not Found; the server says: Error response .*Error code: "
                                              r"404 Message: Not Found\. .*Nothing matches the given URI") as error:
        download(RemoteFile(f"{archive.url}/none.fits", tmp_path / "x.fits"), **FAST)
    assert "<" not in str(error.value)


def test_slow_steady_reply_is_not_cut_by_the_timeout(archive, tmp_path):
    """The timeout bounds the server's silence, not the length of the transfer."""
    archive.services["data"] = _service(_zip_bytes(600_000))
    archive.pace["data"] = 0.15  # 10 blocks: about 1.5 s in all, never more than 0.15 s of silence
    remote = RemoteFile(f"{archive.url}/data", tmp_path / "x.zip", form={"ID": "1"}, zipped=True)
    download(remote, **(FAST | {"timeout": 0.8, "retries": 0}))
    assert remote.path.read_bytes() == _zip_bytes(600_000) and len(archive.requests) == 1


def test_stalled_reply_is_fetched_again(archive, tmp_path):
    archive.services["data"] = _service(_zip_bytes(600_000))
    archive.stall["data"] = (200_000, 2.0)  # the first reply falls silent for longer than the timeout
    remote = RemoteFile(f"{archive.url}/data", tmp_path / "x.zip", form={"ID": "1"}, zipped=True)
    download(remote, **(FAST | {"timeout": 0.5}))
    assert remote.path.read_bytes() == _zip_bytes(600_000) and len(archive.requests) == 2


def test_reply_without_a_length_cut_short_is_fetched_again(archive, tmp_path):
    """A reply built on the fly ends when the connection closes: only the zip shows it is whole."""
    archive.send_length = False
    archive.services["data"] = _service(_zip_bytes(600_000))
    archive.cut_after["data"] = 300_000
    remote = RemoteFile(f"{archive.url}/data", tmp_path / "x.zip", form={"ID": "1"}, zipped=True)
    download(remote, **FAST)
    assert remote.path.read_bytes() == _zip_bytes(600_000) and len(archive.requests) == 2


def test_reply_that_is_no_zip_is_refused_with_its_words(archive, tmp_path):
    archive.services["data"] = _service(b"Quota exceeded for user anonymous", "text/plain")
    remote = RemoteFile(f"{archive.url}/data", tmp_path / "x.zip", form={"ID": "1"}, zipped=True)
    with pytest.raises(DownloadError, match=r"data: the reply is not a zip archive; the server says: Quota exceeded"):
        download(remote, **FAST)
    assert len(archive.requests) == 1 and not remote.path.exists()
    assert not remote.path.with_name("x.zip.part").exists()


@pytest.mark.parametrize("encoding", ["on request", "always"])
def test_a_gz_file_labelled_gzip_encoded_arrives_as_published(archive, tmp_path, encoding):
    """A server (nginx gzip_static, Apache AddEncoding) may send a .csv.gz as the gzip encoding of a CSV,
    when the client accepts gzip or always; undoing that encoding would unzip the file and fail its checksum."""
    chunk = gzip.compress(b"source_id,ra\n" + b"1,2.0\n" * 50_000, mtime=0)
    url = archive.put("Gaia/XpContinuousMeanSpectrum_000000-003111.csv.gz", chunk)
    archive.gzip_encoding = encoding
    download(RemoteFile(url, tmp_path / "chunk.csv.gz", _md5(chunk)), **FAST)
    assert (tmp_path / "chunk.csv.gz").read_bytes() == chunk and len(archive.requests) == 1


TOKEN = "F5fd29a16a5-my-own"


def test_a_secret_query_field_is_sent_and_never_shown(archive, tmp_path, caplog):
    url = archive.put("openapi/dr10/v2.0/lrs/spectrum/fits?obsid=7", DATA)  # pylamost's address, its obsid a field
    archive.tokens["openapi/"] = TOKEN
    remote = RemoteFile(url, tmp_path / "7.fits.gz", secret_query={"token": TOKEN})
    assert download(remote, **FAST).read_bytes() == DATA and TOKEN not in repr(remote)
    with pytest.raises(HTTPStatusError, match="HTTP 403"):
        download(RemoteFile(url, tmp_path / "none.fits.gz"), **FAST)  # no token, no spectrum

    def echo(form):
        raise ServiceError(503, f"token {TOKEN} is rate limited")
    archive.services["openapi/echo"] = echo
    with pytest.raises(HTTPStatusError, match=r"token \*\*\* is rate limited") as echoed:
        download(RemoteFile(f"{archive.url}/openapi/echo", tmp_path / "e", form={}, secret_query={"token": TOKEN}),
                 retries=1, **FAST)
    with FakeArchive(tmp_path / "gone") as gone:
        dead = gone.url + "/spectrum/fits?obsid=8"
    with pytest.raises(DownloadError, match=r"failed after 2 attempts .*token=\*\*\*") as refused:
        download(RemoteFile(dead, tmp_path / "8.fits.gz", secret_query={"token": TOKEN}), retries=1, **FAST)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__  # no chained traceback shows it
    assert TOKEN not in str(echoed.value) + str(refused.value) + caplog.text and "retrying" in caplog.text


def test_the_lamost_token_is_taken_from_the_environment_and_written_nowhere(archive, tmp_path, monkeypatch):
    """Each spectrum request carries the token; no log, file or message of the step holds it."""
    monkeypatch.setenv("MY_LAMOST_TOKEN", TOKEN)
    archive.tokens["lamost/"] = TOKEN
    for obsid in (1, 2):
        archive.put(f"lamost/openapi/dr10/v2.0/lrs/spectrum/fits?obsid={obsid}", DATA)
    pd.DataFrame({"obsid": [1, 2, 3]}).to_csv(tmp_path / "matches.csv", index=False)  # 3: no such spectrum
    work = tmp_path / "work"
    spectra = dict(matches_path=tmp_path / "matches.csv", token_env="MY_LAMOST_TOKEN", max_workers=2, timeout=5,
                   spectrum_url=archive.url + "/lamost/openapi/dr10/v2.0/lrs/spectrum/fits?obsid={obsid}",
                   offline=False, manifest_path=work / "manifest.csv")
    work.mkdir()
    with pytest.raises(DownloadError, match=r"^1 of 3 downloads failed:\n  .*fits\?obsid=3: HTTP 404"), \
            log_to(work / "spectra.log"):
        fetch_lamost_spectra(**spectra)
    assert (work / "fits" / "1.fits.gz").read_bytes() == (work / "fits" / "2.fits.gz").read_bytes() == DATA
    assert "LAMOST access token: from $MY_LAMOST_TOKEN" in (work / "spectra.log").read_text()
    written = [path for path in work.rglob("*") if path.is_file()]
    assert len(written) == 3 and not [path for path in written if TOKEN.encode() in path.read_bytes()]
    monkeypatch.delenv("MY_LAMOST_TOKEN")
    with pytest.raises(DownloadError, match=r"^no LAMOST access token was sent \(put yours in the environment "
                                            r"variable MY_LAMOST_TOKEN\): 3 of 3 downloads failed:\n  .*obsid=1: "
                                            r"HTTP 403"), log_to(work / "without.log"):
        fetch_lamost_spectra(**spectra | {"manifest_path": work / "again" / "manifest.csv"})
    assert "LAMOST access token: none ($MY_LAMOST_TOKEN is not set)" in (work / "without.log").read_text()
