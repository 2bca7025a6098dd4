"""A small HTTP archive on 127.0.0.1 for the download tests: files from a folder, with Range.

It mimics what the real archives do that the download engine relies on (Content-Length,
``Range: bytes=N-`` answered with 206 and Content-Range, 404 for a missing path) and can
misbehave on purpose, once per path: close the connection after some bytes (an interrupted
transfer), or send other bytes (a corrupt transfer).
"""

import http.server
import io
import re
import threading
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
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
    corrupt : dict
        URL path -> bytes sent instead of the file, on the next request only.
    ignore_range : bool
        Answer every request with the whole file (200), as some servers do.
    services : dict
        URL path -> function of the POSTed form fields returning (content type, bytes): the
        archives' query services (see :func:`tap_sync` and :func:`datalink`).
    """

    def __init__(self, root):
        self.root = Path(root)
        self.requests = []
        self.cut_after = {}
        self.corrupt = {}
        self.ignore_range = False
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
        content_type, data = self.services[path](form)
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

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
        body = data[start:]
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Accept-Ranges", "bytes")
        cut = self.cut_after.pop(path, None)
        if cut is not None:
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body[:cut])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.end_headers()
        handler.wfile.write(body)


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


def datalink(products):
    """A Gaia data-server ``data`` service: a zip with one CSV of the asked IDs' rows.

    ``products`` maps a RETRIEVAL_TYPE to a DataFrame with a ``source_id`` column.
    """
    def answer(form):
        ids = np.array(form["ID"].split(","), dtype=np.int64)
        rows = products[form["RETRIEVAL_TYPE"]]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"{form['RETRIEVAL_TYPE']}_COMBINED.csv",
                             rows[rows["source_id"].isin(ids)].to_csv(index=False))
        return "application/zip", buffer.getvalue()
    return answer
