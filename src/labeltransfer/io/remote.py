"""Downloads from the survey archives over HTTP: resumable, retried, verified, atomic.

One engine serves every download rule. A file is written to ``<name>.part`` and moved into
place only when complete and verified, so that an interrupted run never leaves a file that
looks finished. A later attempt resumes the ``.part`` file with an HTTP ``Range`` request
(servers that ignore ``Range`` answer 200 and the file starts over); a reply built on request
(a POSTed form, such as a DataLink batch) is fetched again from the start. Connection
errors, stalls, truncated transfers and 5xx / 429 answers are retried with exponential
back-off; other HTTP errors (404, 403, ...) fail at once, and so does an error whose body
says that a parameter of the request is invalid: the error names the URL, the status and the
first part of what the server said. The timeout bounds the server's silence (before it
answers, and between two blocks of the reply), never the length of a transfer. Every request
asks for ``Accept-Encoding: identity`` and the bytes are stored as they arrive, a
``Content-Encoding`` never undone: a server or proxy that declares a ``.csv.gz`` file gzip-encoded
cannot make it arrive decompressed and fail its checksum. The size announced by the server is
always checked, a reply that must be a zip archive is checked whole (central directory and
CRCs), and a checksum (``"md5:<hex>"``, ``"sha1:<hex>"`` or ``"sha256:<hex>"``, as archives
publish them) is checked when given: a mismatch discards the file and fetches it once more
before failing. An access token travels as a secret query field (``RemoteFile.secret_query``):
sent with every request, never part of the URL the messages name, and masked wherever the
server or the HTTP library repeats it. ``offline=True`` uses what is already on disk and
otherwise fails, listing every missing file.
"""

import logging
import os
import re
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import requests
import urllib3
from tqdm.auto import tqdm

from .checksums import ChecksumError, DownloadError, verify_checksum

__all__ = ["RemoteFile", "HTTPStatusError", "OfflineError", "RETRY_STATUSES", "download", "download_many",
           "wait_before_retry"]

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (the server may answer next time).
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
#: Bytes read at a time; a transfer cut mid-chunk loses that chunk only.
CHUNK_BYTES = 1 << 16
#: Bytes of an error reply kept, and characters of it quoted in the error message.
ERROR_BODY_BYTES, ERROR_BODY_CHARS = 4096, 600
#: What an error reply says when the request itself is wrong: asking again cannot help (the
#: Gaia data server answers an unknown DATA_STRUCTURE with HTTP 500 "Invalid Data Structure
#: parameter: 'COMBINED', valid ones are: RAW, INDIVIDUAL", and too many IDs with HTTP 500
#: "Maximum number of Source Ids reached (max: 5000, found: ...)").
INVALID_REQUEST = re.compile(r"\binvalid\b|\bnot valid\b|\bvalid ones are\b|\bunknown parameter\b"
                             r"|\bmaximum number of\b.*\breached\b", re.IGNORECASE)
#: Asked of every server: the bytes as stored (a .csv.gz is not to be unzipped on the way).
IDENTITY = {"Accept-Encoding": "identity"}
#: What a secret query field is replaced with in messages.
MASK = "***"


class HTTPStatusError(DownloadError):
    """The server answered with an HTTP error status; ``body`` is the start of what it said."""

    def __init__(self, url, status, reason="", body=""):
        message = f"{url}: HTTP {status} {reason}".rstrip()
        super().__init__(f"{message}; the server says: {body}" if body else message)
        self.url, self.status, self.body = url, status, body

    @property
    def retryable(self):
        """Whether asking again may help: a transient status, and no word of an invalid request."""
        return self.status in RETRY_STATUSES and not INVALID_REQUEST.search(self.body)


class OfflineError(DownloadError):
    """Offline mode was asked for and some files are not on disk."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of an archive and where it goes.

    Attributes
    ----------
    url : str
    path : Path
        Local destination.
    checksum : str, optional
        ``"md5:<hex>"`` or ``"sha256:<hex>"``.
    form : dict, optional
        Form fields to POST (a service that builds the file on request, such as DataLink);
        such a transfer is not resumed but started over.
    zipped : bool
        The reply is a zip archive: it is kept only when it reads whole (a reply sent without
        a length is otherwise complete whenever the connection closes).
    secret_query : dict, optional
        Query fields sent with every request and written nowhere (an access token): not part
        of ``url``, left out of the object's repr and masked in every message.
    """

    url: str
    path: Path
    checksum: str = None
    form: dict = None
    zipped: bool = False
    secret_query: dict = field(default=None, repr=False)

    def masked(self, text):
        """``text`` with every secret query value (as written, or URL-encoded) replaced by ``***``."""
        for value in (self.secret_query or {}).values():
            for written in {str(value), quote(str(value), safe=""), quote_plus(str(value))} - {""}:
                text = text.replace(written, MASK)
        return text


def download(remote, *, session=None, retries=5, backoff=1.0, timeout=60.0, offline=False,
             progress=True):
    """Fetch one file unless a verified copy is already there; return its path.

    Parameters
    ----------
    remote : RemoteFile
    session : requests.Session, optional
        A session to reuse (connection pooling); a new one by default.
    retries : int
        Attempts after the first one for transient failures (connection, truncation, 5xx).
    backoff : float
        Seconds before the first retry; doubled after each.
    timeout : float
        Seconds the server may stay silent: to connect, to start its answer, and between
        two blocks of the reply. It does not limit the length of a transfer.
    offline : bool
        Never touch the network: return the file if it is there, else raise OfflineError.
    progress : bool
        Show a byte progress bar.

    Raises
    ------
    HTTPStatusError, ChecksumError, OfflineError, DownloadError
    """
    path = Path(remote.path)
    if path.exists():
        try:
            verify_checksum(path, remote.checksum)
            return path
        except ChecksumError:
            if offline:
                raise
            log.warning("%s does not match its checksum; fetching it again", path)
            path.unlink()
    if offline:
        raise OfflineError(f"offline mode: {path} is not on disk (from {remote.url})")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    session = session or requests.Session()
    refetched = False
    attempt = 0
    while True:
        try:
            _fetch(session, remote, part, timeout, progress)
            if remote.zipped:
                _check_zip(part, remote.url)
            verify_checksum(part, remote.checksum)
            os.replace(part, path)
            return path
        except ChecksumError:
            part.unlink(missing_ok=True)
            if refetched:
                raise
            log.warning("%s: checksum mismatch; fetching it again from the start", remote.url)
            refetched = True
        except HTTPStatusError as error:
            if not error.retryable or attempt >= retries:
                raise
            attempt = wait_before_retry(remote.url, error, attempt, backoff)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                _Truncated) as error:
            if attempt >= retries:
                raise DownloadError(f"{remote.url}: failed after {retries + 1} attempts "
                                    f"({remote.masked(str(error))}); {part} is kept and the next run resumes "
                                    "it") from (None if remote.secret_query else error)
            attempt = wait_before_retry(remote.url, remote.masked(str(error)), attempt, backoff)
        except requests.RequestException as error:  # a malformed address, a redirect loop: asking again cannot help
            raise DownloadError(f"{remote.url}: {remote.masked(str(error))}") from (
                None if remote.secret_query else error)


class _Truncated(IOError):
    """The connection closed before the announced number of bytes arrived."""


def wait_before_retry(what, error, attempt, backoff):
    """Log ``error`` of ``what`` (a URL, a query), sleep ``backoff * 2**attempt`` s; the next attempt's number."""
    delay = backoff * 2 ** attempt
    log.warning("%s: %s; retrying in %.1f s", what, error, delay)
    time.sleep(delay)
    return attempt + 1


def _fetch(session, remote, part, timeout, progress):
    """Write ``remote`` to ``part``, resuming what is there (GET only); check the announced size."""
    url = remote.url
    offset = part.stat().st_size if part.exists() and remote.form is None else 0
    if remote.form is None:
        headers = IDENTITY | ({"Range": f"bytes={offset}-"} if offset else {})
        request = session.get(url, params=remote.secret_query, headers=headers, stream=True, timeout=timeout)
    else:
        request = session.post(url, params=remote.secret_query, data=remote.form, headers=IDENTITY, stream=True,
                               timeout=timeout)
    with request as response:
        if response.status_code == 416:  # the part file is longer than the file: start over
            part.unlink()
            raise _Truncated(f"{part} did not fit the remote file; starting over")
        if response.status_code >= 400:
            raise HTTPStatusError(url, response.status_code, response.reason, remote.masked(_error_body(response)))
        if offset and response.status_code == 206:
            log.info("%s: resuming at byte %d", url, offset)
        else:
            offset = 0  # a plain 200: the server sends the whole file
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None else None  # the bytes sent are the bytes kept
        with open(part, "ab" if offset else "wb") as handle, tqdm(
                total=expected, initial=offset, unit="B", unit_scale=True, desc=part.name[:-5],
                disable=not progress, mininterval=1.0, leave=False) as bar:
            for block in _raw_blocks(response):
                handle.write(block)
                bar.update(len(block))
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise _Truncated(f"got {size} of {expected} bytes")


def _raw_blocks(response):
    """The reply's bytes as sent, a Content-Encoding left as it is, with requests' exceptions."""
    try:
        yield from response.raw.stream(CHUNK_BYTES, decode_content=False)
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.ConnectionError(error) from error
    except urllib3.exceptions.SSLError as error:
        raise requests.exceptions.SSLError(error) from error
    except urllib3.exceptions.ProtocolError as error:
        raise requests.exceptions.ChunkedEncodingError(error) from error


def _error_body(response):
    """The start of an error reply as one line of text (HTML tags dropped)."""
    try:
        data = response.raw.read(ERROR_BODY_BYTES, decode_content=True) or b""
    except (requests.RequestException, OSError, ValueError):
        return ""
    text = data.decode(response.encoding or "utf-8", errors="replace")
    if "html" in response.headers.get("Content-Type", "").lower():
        text = re.sub(r"<(script|style).*?</\1>|<[^>]+>", " ", text, flags=re.IGNORECASE | re.DOTALL)
    text = " ".join(text.split())
    return text if len(text) <= ERROR_BODY_CHARS else text[:ERROR_BODY_CHARS] + " ..."


def _check_zip(part, url):
    """Raise unless ``part`` is a whole zip archive (_Truncated for a cut one, to be fetched again)."""
    with open(part, "rb") as handle:
        head = handle.read(ERROR_BODY_BYTES)
    if not head.startswith(b"PK"):
        part.unlink()
        text = " ".join(head.decode("utf-8", errors="replace").split())[:ERROR_BODY_CHARS]
        raise DownloadError(f"{url}: the reply is not a zip archive; the server says: {text}")
    try:
        with zipfile.ZipFile(part) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise _Truncated(f"the reply is not a whole zip archive ({error})") from error
    if damaged is not None:
        raise _Truncated(f"member {damaged} of the reply fails its CRC")


def download_many(remotes, *, max_workers=4, offline=False, progress=True, **options):
    """Fetch several files with at most ``max_workers`` connections at a time.

    Parameters
    ----------
    remotes : list of RemoteFile
    max_workers : int
    offline : bool
        Fail (listing every missing file) rather than touch the network.
    progress : bool
        Show a progress bar over the files.
    **options
        Passed to :func:`download` (``retries``, ``backoff``, ``timeout``).

    Returns
    -------
    list of Path, in the order of ``remotes``.

    Raises
    ------
    OfflineError
        In offline mode, naming every file that is not on disk.
    DownloadError
        Naming every file that failed, after the others have been fetched.
    """
    remotes = list(remotes)
    if offline:
        missing = [r for r in remotes if not Path(r.path).exists()]
        if missing:
            listing = "\n".join(f"  {r.path}  <- {r.url}" for r in missing)
            raise OfflineError(f"offline mode: {len(missing)} of {len(remotes)} files are not on "
                               f"disk:\n{listing}")
    failures = {}  # by the remote's place in the list: named in the order asked, whatever finished first
    local = threading.local()  # one session (connection pool) per worker thread

    def fetch(remote):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return download(remote, session=local.session, offline=offline, progress=False, **options)

    with ThreadPoolExecutor(max_workers) as pool, tqdm(
            total=len(remotes), unit="file", desc="download", mininterval=1.0, disable=not progress) as bar:
        futures = {pool.submit(fetch, r): number for number, r in enumerate(remotes)}
        for future in as_completed(futures):
            try:
                future.result()
            except DownloadError as error:
                failures[futures[future]] = str(error)
            bar.update()
    if failures:
        raise DownloadError(f"{len(failures)} of {len(remotes)} downloads failed:\n  "
                            + "\n  ".join(failures[number] for number in sorted(failures)))
    return [Path(r.path) for r in remotes]
