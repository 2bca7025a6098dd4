"""A small HTTP archive on 127.0.0.1 for the download tests: files from a folder, with Range.

It mimics what the real archives do that the download engine relies on (Content-Length,
``Range: bytes=N-`` answered with 206 and Content-Range, 404 for a missing path), answers
POSTed forms as the archives' query services do (TAP, the Gaia DataLink data server, with
its error replies), and can misbehave on purpose, once per path: close the connection after
some bytes (an interrupted transfer), fall silent for a while (a stalled one), or send other
bytes (a corrupt transfer).
"""

import http.server
import io
import re
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd
from astropy.io.votable import from_table
from astropy.table import Table


class FakeArchive:
    """Serve ``root`` on a free port of 127.0.0.1; use as a context manager.

    Attributes
    ----------
    url : str
        Base URL, without a trailing slash.
    requests : list of (path, range header or None)
        Every GET received, in order.
    cut_after : dict
        URL path -> bytes sent before the connection is closed, on the next request only.
    stall : dict
        URL path -> (bytes, seconds): after that many bytes the server falls silent for that
        long, then sends the rest; on the next request only.
    pace : dict
        URL path -> seconds between two 64 kB blocks of every reply (a slow but steady server).
    corrupt : dict
        URL path -> bytes sent instead of the file, on the next request only.
    ignore_range : bool
        Answer every request with the whole file (200), as some servers do.
    send_length : bool
        Announce Content-Length; when False the end of the reply is the closing of the
        connection, as for a reply built on the fly.
    services : dict
        URL path -> function of the POSTed form fields returning (content type, bytes), or
        raising :class:`ServiceError`: the archives' query services (see :func:`tap_sync`
        and :func:`datalink`).
    """

    def __init__(self, root):
        self.root = Path(root)
        self.requests = []
        self.cut_after = {}
        self.stall = {}
        self.pace = {}
        self.corrupt = {}
        self.ignore_range = False
        self.send_length = True
        self.services = {}
        archive = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 (the http.server API)
                archive._serve(self)

            def do_POST(self):  # noqa: N802
                archive._answer(self)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def put(self, path, data):
        """Place ``data`` (bytes) at URL path ``path`` (``"dir/file"``); return its URL."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return f"{self.url}/{path}"

    def _answer(self, handler):
        path = unquote(urlsplit(handler.path).path).lstrip("/")
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.requests.append((path, form))
        if path not in self.services:
            handler.send_error(404, "Not Found")
            return
        try:
            content_type, data = self.services[path](form)
        except ServiceError as error:
            handler.send_response(error.status)
            handler.send_header("Content-Type", "text/plain;charset=UTF-8")
            handler.send_header("Content-Length", str(len(error.body)))
            handler.end_headers()
            handler.wfile.write(error.body)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        self._send_body(handler, path, data)

    def _serve(self, handler):
        path = unquote(urlsplit(handler.path).path).lstrip("/")
        range_header = handler.headers.get("Range")
        self.requests.append((path, range_header))
        target = self.root / path
        if not target.is_file():
            handler.send_error(404, "Not Found")
            return
        data = self.corrupt.pop(path, None) or target.read_bytes()
        start = 0
        if range_header and not self.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                handler.send_error(416, "Range Not Satisfiable")
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        handler.send_header("Accept-Ranges", "bytes")
        self._send_body(handler, path, data[start:])

    def _send_body(self, handler, path, body):
        """Headers' end and ``body``, misbehaving as asked for ``path``."""
        cut = self.cut_after.pop(path, None)
        if self.send_length:
            handler.send_header("Content-Length", str(len(body)))
        if cut is not None or not self.send_length:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        body = body if cut is None else body[:cut]
        stall_at, stall_seconds = self.stall.pop(path, (None, 0))
        block = 1 << 16
        try:
            for start in range(0, len(body), block):
                if stall_at is not None and start >= stall_at:
                    handler.wfile.flush()
                    time.sleep(stall_seconds)
                    stall_at = None
                handler.wfile.write(body[start:start + block])
                if path in self.pace:
                    handler.wfile.flush()
                    time.sleep(self.pace[path])
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout under test)
            handler.close_connection = True


class ServiceError(Exception):
    """An error reply of a query service: HTTP ``status`` with a plain-text ``body``."""

    def __init__(self, status, body):
        super().__init__(body)
        self.status, self.body = status, body.encode()


def tap_sync(table):
    """A TAP ``/sync`` service answering ``SELECT ... WHERE source_id IN (...)`` from ``table``.

    ``table`` is a pandas DataFrame with a ``source_id`` column; the answer is a VOTable with
    the selected columns of the rows whose source_id is in the list.
    """
    def answer(form):
        query = form["QUERY"]
        columns = [c.strip() for c in re.search(r"SELECT (.*?) FROM", query, re.S).group(1).split(",")]
        ids = [int(i) for i in re.search(r"IN \((.*?)\)", query, re.S).group(1).split(",")]
        rows = table[table["source_id"].isin(ids)][columns]
        buffer = io.BytesIO()
        from_table(Table.from_pandas(rows)).to_xml(buffer)
        return "application/x-votable+xml", buffer.getvalue()
    return answer


#: The data server's reply to a DATA_STRUCTURE it does not know (quoted from a reply of 2025).
INVALID_STRUCTURE = ("Error 500:\nInvalid Data Structure parameter: '{value}', valid ones are: RAW, INDIVIDUAL\n\n"
                     "Cannot process request: 'https://gea.esac.esa.int/data-server/data' (req: Reqid: "
                     "anonymous1740523132545, retrieval access: DIRECT, retrieval type: {retrieval_type}, "
                     "compression: null), due to: Invalid Data Structure parameter: '{value}', valid ones are: "
                     "RAW, INDIVIDUAL")


def datalink(products):
    """A Gaia data-server ``data`` service, as astroquery and GaiaXPy find it.

    ``products`` maps a RETRIEVAL_TYPE to a DataFrame with a ``source_id`` column and one row
    per source (the RAW layout; RVS rows carry ``flux`` and ``flux_error`` array cells). The
    answer to ``DATA_STRUCTURE=RAW`` is one ``<RETRIEVAL_TYPE>_RAW.csv`` of the asked IDs'
    rows; to ``INDIVIDUAL``, one ``<RETRIEVAL_TYPE>-Gaia DR3 <source_id>.csv`` per source, in
    which an RVS spectrum has one row per pixel (``wavelength``, ``flux``, ``flux_error``, as
    the archive's XP_SAMPLED files have). Any other structure (``COMBINED``) gets the server's
    HTTP 500 and its words. The files are zipped when ``USE_ZIP_ALWAYS=true`` or when there
    are several.
    """
    def answer(form):
        structure, retrieval_type = form["DATA_STRUCTURE"].upper(), form["RETRIEVAL_TYPE"]
        if structure not in ("RAW", "INDIVIDUAL"):
            raise ServiceError(500, INVALID_STRUCTURE.format(value=form["DATA_STRUCTURE"],
                                                             retrieval_type=retrieval_type))
        ids = np.array(form["ID"].split(","), dtype=np.int64)
        rows = products[retrieval_type]
        rows = rows[rows["source_id"].isin(ids)]
        if structure == "RAW":
            files = {f"{retrieval_type}_RAW.csv": rows.to_csv(index=False)}
        else:
            files = {f"{retrieval_type}-Gaia DR3 {source_id}.csv": _individual(rows.iloc[[i]], retrieval_type)
                     for i, source_id in enumerate(rows["source_id"])}
        if form.get("USE_ZIP_ALWAYS", "false").lower() != "true" and len(files) == 1:
            return "text/csv", next(iter(files.values())).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                archive.writestr(name, text)
        return "application/zip", buffer.getvalue()
    return answer


def _individual(row, retrieval_type):
    """One source's file of an INDIVIDUAL reply (RVS: one row per pixel)."""
    if retrieval_type != "RVS":
        return row.to_csv(index=False)
    record = row.iloc[0]
    flux, error = (np.array([float(v) if v.strip() else np.nan for v in str(record[c]).strip("()[]").split(",")])
                   for c in ("flux", "flux_error"))
    pixels = pd.DataFrame({"source_id": record["source_id"], "solution_id": record.get("solution_id", 1),
                           "ra": record.get("ra", np.nan), "dec": record.get("dec", np.nan),
                           "wavelength": np.round(846.0 + 0.01 * np.arange(flux.size), 2), "flux": flux,
                           "flux_error": error})
    return pixels.to_csv(index=False)
