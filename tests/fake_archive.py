"""A small HTTP archive on 127.0.0.1 for the download tests: files from a folder, with Range.

It mimics what the real archives do that the download engine relies on (Content-Length,
``Range: bytes=N-`` answered with 206 and Content-Range, 404 for a missing path), answers
POSTed forms as the archives' query services do (TAP with its 2,000-row cap and its error
documents, the Gaia DataLink data server with its 5,000-ID limit, its DATA_STRUCTURE names and
its error replies, the real 26 columns of an XP RAW row), can demand an access token (LAMOST),
can label ``.gz`` files gzip-encoded (as servers with nginx's ``gzip_static`` or Apache's
``AddEncoding`` do), and can misbehave on purpose, once per path: close the connection after
some bytes (an interrupted transfer), fall silent for a while (a stalled one), or send other
bytes (a corrupt transfer).
"""

import html
import http.server
import io
import re
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

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
        Every GET received, in order; ``path`` with its query (``token`` left out), which is
        also how a file is found: ``put("spectrum/fits?obsid=1", ...)`` serves
        ``/spectrum/fits?obsid=1``.
    tokens : dict
        URL path prefix -> the access token that requests under it must carry as the
        ``token`` query field; without it the answer is HTTP 403 (the real archive's words
        are not known here).
    gzip_encoding : {None, "on request", "always"}
        Send a ``.gz`` file labelled ``Content-Encoding: gzip`` (its bytes unchanged) when the
        client accepts gzip, or always.
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
        self.tokens = {}
        self.gzip_encoding = None
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
        path, token = self._path_and_token(handler)
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.requests.append((path, form))
        if not self._token_accepted(handler, path, token):
            return
        if path not in self.services:
            handler.send_error(404, "Not Found")
            return
        try:
            content_type, data = self.services[path](form)
        except ServiceError as error:
            handler.send_response(error.status)
            handler.send_header("Content-Type", error.content_type)
            handler.send_header("Content-Length", str(len(error.body)))
            handler.end_headers()
            handler.wfile.write(error.body)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        self._send_body(handler, path, data)

    def _serve(self, handler):
        path, token = self._path_and_token(handler)
        range_header = handler.headers.get("Range")
        self.requests.append((path, range_header))
        if not self._token_accepted(handler, path, token):
            return
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
        accepts_gzip = "gzip" in handler.headers.get("Accept-Encoding", "").lower()
        if path.endswith(".gz") and (self.gzip_encoding == "always" or
                                     (self.gzip_encoding == "on request" and accepts_gzip)):
            handler.send_header("Content-Encoding", "gzip")
        self._send_body(handler, path, data[start:])

    @staticmethod
    def _path_and_token(handler):
        """The URL path with its query but the ``token`` field (how files and services are found), and the token."""
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        token = query.pop("token", [None])[0]
        path = unquote(parts.path).lstrip("/")
        return (f"{path}?{urlencode(query, doseq=True)}" if query else path), token

    def _token_accepted(self, handler, path, token):
        """Whether the request may go on: it carries the token its path demands, if any (else HTTP 403 is sent)."""
        wanted = next((value for prefix, value in self.tokens.items() if path.startswith(prefix)), None)
        if wanted is None or token == wanted:
            return True
        handler.send_error(403, "Forbidden", "a valid access token is required")
        return False

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
    """An error reply of a query service: HTTP ``status`` with a ``body`` (plain text unless said)."""

    def __init__(self, status, body, content_type="text/plain;charset=UTF-8"):
        super().__init__(body)
        self.status, self.body, self.content_type = status, body.encode(), content_type


#: Rows a synchronous query of the Gaia archive returns at most.
TAP_ROW_LIMIT = 2000
#: The Gaia TAP service's error document (HTTP 500), as quoted in astroquery issue #811 (its
#: stack-trace INFO left out): the query, the job and what could not be parsed.
TAP_ERROR = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<VOTABLE version="1.2" xmlns="http://www.ivoa.net/xml/VOTable/v1.2">\n<RESOURCE type="results">\n'
             '<INFO name="QUERY_STATUS" value="ERROR">\nCannot parse query \'{query}\' for '
             "job '1482270532164E': 1 unresolved identifiers: {column} [l.1 c.{start} - l.1 c.{end}] !\n</INFO>\n"
             '<INFO name="HttpErrorCode" value="500"/>\n<INFO name="Action" value="Handling request"/>\n'
             '<INFO name="Exception" value="esavo.uws.UwsException"/>\n</RESOURCE>\n</VOTABLE>\n')


def tap_sync(table, row_limit=TAP_ROW_LIMIT, overflow_when_full=False):
    """A TAP ``/sync`` service answering ``SELECT ... WHERE source_id IN (...)`` from ``table``.

    ``table`` is a pandas DataFrame with a ``source_id`` column; the answer is a VOTable with
    the selected columns of the rows whose source_id is in the list, at most ``MAXREC`` and at
    most ``row_limit`` of them, its ``QUERY_STATUS`` ``OK`` before the table and ``OVERFLOW``
    after it when rows were left out (TAP 1.1), or, with ``overflow_when_full``, whenever the
    rows reach the limit (as a server that does not look past it may say). A column the
    table lacks gets the archive's error document (``TAP_ERROR``, HTTP 500).
    """
    def answer(form):
        query = form["QUERY"]
        columns = [c.strip() for c in re.search(r"SELECT (.*?) FROM", query, re.S).group(1).split(",")]
        unknown = next((c for c in columns if c not in table.columns), None)
        if unknown is not None:
            start = query.index(unknown) + 1
            raise ServiceError(500, TAP_ERROR.format(query=html.escape(query), column=unknown, start=start,
                                                     end=start + len(unknown)), "text/xml;charset=UTF-8")
        ids = [int(i) for i in re.search(r"IN \((.*?)\)", query, re.S).group(1).split(",")]
        rows = table[table["source_id"].isin(ids)][columns]
        limit = min(int(form.get("MAXREC", row_limit)), row_limit)
        buffer = io.BytesIO()
        from_table(Table.from_pandas(rows.iloc[:limit])).to_xml(buffer)
        status = '<INFO name="QUERY_STATUS" value="{}"/>'
        document = buffer.getvalue().decode().replace('<RESOURCE type="results">',
                                                      '<RESOURCE type="results">' + status.format("OK"))
        if len(rows) > limit or (overflow_when_full and len(rows) == limit):
            document = document.replace("</TABLE>", "</TABLE>" + status.format("OVERFLOW"))
        return "application/x-votable+xml", document.encode()
    return answer


#: Source IDs a DataLink request may hold.
DATALINK_ID_LIMIT = 5000
#: The data server's reply to a DATA_STRUCTURE it does not know (quoted from a reply of 2025,
#: nasa-fornax/fornax-demo-notebooks#375; the valid names are those the server accepts).
INVALID_STRUCTURE = ("Error 500:\nInvalid Data Structure parameter: '{value}', valid ones are: {valid}\n\n"
                     "Cannot process request: 'https://gea.esac.esa.int/data-server/data' (req: Reqid: "
                     "anonymous1740523132545, retrieval access: DIRECT, retrieval type: {retrieval_type}, "
                     "compression: null), due to: Invalid Data Structure parameter: '{value}', valid ones are: "
                     "{valid}")
#: Its reply to more IDs than it takes (astroquery issue #2843; the rest as in the reply above).
TOO_MANY_IDS = ("Error 500:\nMaximum number of Source Ids reached (max: {limit}, found: {found})\n\nCannot process "
                "request: 'https://gea.esac.esa.int/data-server/data' (req: Reqid: anonymous1740523132545, retrieval "
                "access: DIRECT, retrieval type: {retrieval_type}, compression: null), due to: Maximum number of "
                "Source Ids reached (max: {limit}, found: {found})")
#: DATA_STRUCTURE names: RAW (one file per batch) and INDIVIDUAL (one file per source), which the
#: operational server accepted in 2026-07, and astroquery's 2026 names of the same layouts.
OPERATIONAL_STRUCTURES = ("RAW", "INDIVIDUAL")
ALL_STRUCTURES = OPERATIONAL_STRUCTURES + ("DATAMODEL_GAIA", "DATAMODEL_STANDARD")
ONE_FILE = ("RAW", "DATAMODEL_GAIA")
#: The columns of an XP_CONTINUOUS RAW row, in the archive's order
#: (../shared/fixtures/real/gaia_xp/XP_CONTINUOUS_RAW.csv; test_gaia_archive checks them against it).
XP_RAW_COLUMNS = ("source_id", "solution_id") + tuple(
    f"{band}_{name}" for band in ("bp", "rp") for name in (
        "basis_function_id", "degrees_of_freedom", "n_parameters", "n_measurements", "n_rejected_measurements",
        "standard_deviation", "chi_squared", "coefficients", "coefficient_errors", "coefficient_correlations",
        "n_relevant_bases", "relative_shrinking"))


def datalink(products, max_ids=DATALINK_ID_LIMIT, structures=ALL_STRUCTURES):
    """A Gaia data-server ``data`` service, as astroquery and GaiaXPy find it.

    ``products`` maps a RETRIEVAL_TYPE to a DataFrame with a ``source_id`` column and one row
    per source (the RAW layout; RVS rows carry ``flux`` and ``flux_error`` array cells;
    XP_CONTINUOUS rows are answered in the archive's 26 columns, ``XP_RAW_COLUMNS``). The
    answer to ``DATA_STRUCTURE=RAW`` (or ``DATAMODEL_GAIA``) is one
    ``<RETRIEVAL_TYPE>_<structure>.csv`` of the asked IDs' rows (the real name under the new
    structure names is not known here); to ``INDIVIDUAL`` (or ``DATAMODEL_STANDARD``), one
    ``<RETRIEVAL_TYPE>-Gaia DR3 <source_id>.csv`` per source, in which an RVS spectrum has one
    row per pixel (``wavelength``, ``flux``, ``flux_error``, as the archive's XP_SAMPLED files
    have). A structure not in ``structures`` (``COMBINED``; the new names, for the server of
    2026-07: ``structures=OPERATIONAL_STRUCTURES``) gets the server's HTTP 500 and its words,
    and so do more than ``max_ids`` IDs. The files are zipped when ``USE_ZIP_ALWAYS=true`` or
    when there are several.
    """
    def answer(form):
        structure, retrieval_type = form["DATA_STRUCTURE"].upper(), form["RETRIEVAL_TYPE"]
        if structure not in structures:
            raise ServiceError(500, INVALID_STRUCTURE.format(value=form["DATA_STRUCTURE"], valid=", ".join(structures),
                                                             retrieval_type=retrieval_type))
        ids = np.array(form["ID"].split(","), dtype=np.int64)
        if len(ids) > max_ids:
            raise ServiceError(500, TOO_MANY_IDS.format(limit=max_ids, found=len(ids), retrieval_type=retrieval_type))
        rows = products[retrieval_type]
        rows = rows[rows["source_id"].isin(ids)]
        if retrieval_type == "XP_CONTINUOUS":
            rows = _xp_raw(rows)
        if structure in ONE_FILE:
            files = {f"{retrieval_type}_{structure}.csv": rows.to_csv(index=False)}
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


def _xp_raw(rows):
    """XP continuous rows in the archive's 26 columns and order (a column the table lacks blank), whole
    numbers written as such (a table read back by pandas holds them as floats where a band is missing)."""
    integers = [c for c in XP_RAW_COLUMNS if c.endswith(("_id", "_freedom", "_parameters", "_measurements", "_bases"))]
    return rows.reindex(columns=list(XP_RAW_COLUMNS)).astype(dict.fromkeys(integers, "Int64"))


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
