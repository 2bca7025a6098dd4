"""The Gaia archive: astrometry by TAP/ADQL (pyvo), XP and RVS spectra by DataLink, in batches.

- ``query_sources`` asks the archive's TAP service for the ``gaiadr3.gaia_source`` rows of
  given source_ids, ``batch_size`` IDs per synchronous ADQL query (``WHERE source_id IN``). A
  synchronous query returns at most 2,000 rows (``TAP_SYNC_ROW_LIMIT``; past it the reply's
  ``QUERY_STATUS`` is ``OVERFLOW``), so a larger batch is refused before anything is asked, and
  a reply cut short is an error naming the query, as is the archive's error document
  (``QUERY_STATUS`` ``ERROR``, e.g. "Cannot parse query ..."); connection failures, stalls and
  5xx / 429 answers are retried with back-off, as downloads are (:mod:`labeltransfer.io.remote`).
- ``datalink_batches`` turns source_ids into DataLink requests of the Gaia data server, which
  :func:`fetch_datalink` fetches through :func:`labeltransfer.io.remote.download_many`
  (POSTed: the ID lists are long; at most 5,000 IDs a request, ``DATALINK_ID_LIMIT``, past which
  the server answers HTTP 500 "Maximum number of Source Ids reached"). The form is the one
  astroquery's ``Gaia.load_data`` sends, as GaiaXPy calls it (``FORMAT=csv``,
  ``RELEASE=Gaia DR3``, ``VALID_DATA=false``, ``USE_ZIP_ALWAYS=true``), so that every reply is
  a zip archive; each batch is read straight from its zip by the XP and RVS readers
  (:func:`labeltransfer.io.table_files`). A reply is stored under a digest of its request
  (the IDs, the product, the layout): a reply on disk is reused only for the very same
  request, and its rows are checked against the IDs asked for (one not asked for is an
  error naming the file; one asked for and absent is a source without the product, counted).

``DATA_STRUCTURE`` says how the reply is laid out. ``RAW`` (the default): one CSV file for the
batch, one row per source, arrays (coefficients, fluxes) written in one cell. ``INDIVIDUAL``:
one file per source (``XP_CONTINUOUS-Gaia DR3 <source_id>.csv``), in which XP has its one row
and RVS one row per pixel. The server refuses ``COMBINED`` since 2024 (HTTP 500 "Invalid Data
Structure parameter: 'COMBINED', valid ones are: RAW, INDIVIDUAL"). astroquery's development
version of 2026 renames RAW to ``DATAMODEL_GAIA`` and INDIVIDUAL to ``DATAMODEL_STANDARD``,
names the operational server did not yet accept in 2026-07: both are allowed, and a server
that refuses one name is answered with an error naming the other (``STRUCTURE_ALIASES``). The
readers take either layout.
"""

import hashlib
import json
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from . import table_files
from .checksums import DownloadError
from .gaia_rvs import NAME_SOURCE_ID
from .remote import RETRY_STATUSES, RemoteFile, download_many, wait_before_retry

__all__ = ["GAIA_SOURCE_COLUMNS", "DATA_STRUCTURES", "STRUCTURE_ALIASES", "TAP_SYNC_ROW_LIMIT", "DATALINK_ID_LIMIT",
           "GaiaArchiveError", "query_sources", "datalink_form", "datalink_batches", "fetch_datalink",
           "reply_source_ids", "check_datalink_reply"]

log = logging.getLogger(__name__)

#: Columns of gaiadr3.gaia_source a task uses.
GAIA_SOURCE_COLUMNS = ("source_id", "ra", "dec", "pmra", "pmdec", "parallax", "parallax_error",
                       "phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag",
                       "has_xp_continuous", "has_rvs")
#: The same layout under its former (operational in 2026-07) and its new (astroquery's 2026) name.
STRUCTURE_ALIASES = {"RAW": "DATAMODEL_GAIA", "INDIVIDUAL": "DATAMODEL_STANDARD",
                     "DATAMODEL_GAIA": "RAW", "DATAMODEL_STANDARD": "INDIVIDUAL"}
#: DataLink DATA_STRUCTURE values: one file per batch (one row per source; RAW, renamed
#: DATAMODEL_GAIA) or one file per source (INDIVIDUAL, renamed DATAMODEL_STANDARD).
DATA_STRUCTURES = tuple(STRUCTURE_ALIASES)
#: Rows a synchronous query of the Gaia archive returns at most (QUERY_STATUS OVERFLOW past it).
TAP_SYNC_ROW_LIMIT = 2000
#: Source IDs a DataLink request of the Gaia data server may hold.
DATALINK_ID_LIMIT = 5000
#: What the data server says when it does not know a DATA_STRUCTURE.
_STRUCTURE_REFUSED = re.compile(r"Invalid Data Structure parameter: '[^']*', valid ones are: [A-Z_]+(?:, [A-Z_]+)*")


class GaiaArchiveError(DownloadError):
    """The Gaia archive refused a query or a request, or answered something other than was asked."""


class _PatientSession(requests.Session):
    """A session whose requests give up after ``timeout`` seconds of the server's silence."""

    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def query_sources(tap_url, source_ids, batch_size=TAP_SYNC_ROW_LIMIT, columns=GAIA_SOURCE_COLUMNS,
                  table="gaiadr3.gaia_source", retries=5, backoff=1.0, timeout=300.0):
    """The archive's rows for ``source_ids`` (IDs it does not know are absent from the result).

    Parameters
    ----------
    tap_url : str
        TAP service, e.g. ``https://gea.esac.esa.int/tap-server/tap``.
    source_ids : array of int
    batch_size : int
        IDs per synchronous ADQL query, at most ``TAP_SYNC_ROW_LIMIT``.
    columns : sequence of str
    table : str
    retries : int
        Attempts after the first one for transient failures (connection, stall, 5xx, 429).
    backoff : float
        Seconds before the first retry; doubled after each.
    timeout : float
        Seconds the service may stay silent before the query is retried.

    Returns
    -------
    pandas.DataFrame, one row per known source_id.

    Raises
    ------
    ValueError
        ``batch_size`` above the archive's synchronous row limit (before any query).
    GaiaArchiveError
        The archive's error document, a result cut short (OVERFLOW), or failures that
        outlasted the retries; the message names the query.
    """
    import pyvo  # the VO client, needed only when the archive is asked

    if batch_size > TAP_SYNC_ROW_LIMIT:
        raise ValueError(f"batch_size {batch_size}: a synchronous query of the Gaia archive returns at most "
                         f"{TAP_SYNC_ROW_LIMIT} rows (archives: gaia: tap_batch_size)")
    service = pyvo.dal.TAPService(tap_url, session=_PatientSession(timeout))
    ids = np.unique(np.asarray(source_ids, dtype=np.int64))
    starts = range(0, len(ids), batch_size)
    frames = []
    for number, start in enumerate(starts, 1):
        batch = ids[start:start + batch_size]
        query = (f"SELECT {', '.join(columns)} FROM {table} "
                 f"WHERE source_id IN ({', '.join(map(str, batch))})")
        what = (f"{tap_url}: query {number} of {len(starts)} (SELECT {', '.join(columns)} FROM {table} WHERE "
                f"source_id IN {len(batch)} ids {batch[0]} ... {batch[-1]})")
        frames.append(_run_sync(service, query, len(batch), what, retries, backoff))
        log.info("%s: %d of %d source_ids asked, %d rows so far", tap_url, start + len(batch), len(ids),
                 sum(len(f) for f in frames))
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))
    n_unknown = len(ids) - len(result)
    if n_unknown:
        log.warning("%s: %d source_ids are not in %s", tap_url, n_unknown, table)
    return result


def _run_sync(service, query, n_ids, what, retries, backoff):
    """The rows of one synchronous query (one per ID at most), retried while the failure is transient."""
    from pyvo.dal import DALFormatError, DALOverflowWarning, DALQueryError, DALServiceError

    attempt = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DALOverflowWarning)  # judged below, with the row count
                result = service.run_sync(query, maxrec=n_ids)
            break
        except DALQueryError as error:  # the archive's error document: asking again cannot help
            reason = " ".join(str(error.reason).replace(query, "<the query>").split())
            raise GaiaArchiveError(f"{what}: the archive refuses the query (QUERY_STATUS {error.label}): "
                                   f"{reason}") from error
        except (DALServiceError, DALFormatError) as error:
            code = getattr(error, "code", None)
            if (code and code not in RETRY_STATUSES) or attempt >= retries:
                raise GaiaArchiveError(f"{what}: failed after {attempt + 1} attempts ({error})") from error
            attempt = wait_before_retry(what, error, attempt, backoff)
    rows = result.to_table().to_pandas()
    if str(result.status[0]).upper() == "OVERFLOW" and len(rows) < n_ids:
        raise GaiaArchiveError(f"{what}: the archive cut the result at {len(rows)} rows (QUERY_STATUS OVERFLOW); "
                               f"lower archives: gaia: tap_batch_size")
    return rows


def datalink_form(source_ids, retrieval_type, data_structure="RAW"):
    """The form fields of one DataLink request (those of astroquery's ``Gaia.load_data``).

    Parameters
    ----------
    source_ids : sequence of int
    retrieval_type : {"XP_CONTINUOUS", "RVS", ...}
    data_structure : str
        One of ``DATA_STRUCTURES``.

    Returns
    -------
    dict of str
    """
    if data_structure not in DATA_STRUCTURES:
        raise ValueError(f"data_structure must be one of {', '.join(DATA_STRUCTURES)}, got {data_structure!r}")
    return {"VALID_DATA": "false", "ID": ",".join(str(int(i)) for i in source_ids), "RELEASE": "Gaia DR3",
            "DATA_STRUCTURE": data_structure, "FORMAT": "csv", "RETRIEVAL_TYPE": retrieval_type,
            "USE_ZIP_ALWAYS": "true"}


def datalink_batches(data_url, source_ids, retrieval_type, folder, batch_size=DATALINK_ID_LIMIT,
                     data_structure="RAW"):
    """The DataLink requests (as RemoteFiles) that fetch one product for ``source_ids``.

    Parameters
    ----------
    data_url : str
        The Gaia data server, e.g. ``https://gea.esac.esa.int/data-server/data``.
    source_ids : array of int
    retrieval_type : {"XP_CONTINUOUS", "RVS", ...}
    folder : path
        Where the batch replies go, named by their request:
        ``<retrieval_type>_<data_structure>_<first id>_<n>_<digest>.zip``, the digest (16 hex
        digits of a sha256) that of the whole form, the IDs included.
    batch_size : int
        IDs per request, at most ``DATALINK_ID_LIMIT`` (the archive's limit).
    data_structure : str
        Layout of the reply, one of ``DATA_STRUCTURES`` (module docstring).

    Returns
    -------
    list of RemoteFile
        POSTed, each reply checked to be a whole zip archive.
    """
    if batch_size > DATALINK_ID_LIMIT:
        raise ValueError(f"batch_size {batch_size}: the Gaia data server takes at most {DATALINK_ID_LIMIT} source IDs "
                         "a request (archives: gaia: datalink_batch_size)")
    ids = np.unique(np.asarray(source_ids, dtype=np.int64))
    remotes = []
    for start in range(0, len(ids), batch_size):
        batch = ids[start:start + batch_size]
        form = datalink_form(batch, retrieval_type, data_structure)
        digest = hashlib.sha256(json.dumps(form, sort_keys=True).encode()).hexdigest()[:16]
        path = Path(folder) / f"{retrieval_type}_{data_structure}_{batch[0]}_{len(batch)}_{digest}.zip"
        remotes.append(RemoteFile(data_url, path, form=form, zipped=True))
    return remotes


def fetch_datalink(data_url, source_ids, retrieval_type, folder, *, batch_size=DATALINK_ID_LIMIT,
                   data_structure="RAW", max_workers=2, offline=False, timeout=600.0):
    """Fetch (or reuse) the DataLink replies of one product for ``source_ids``, each checked; their paths.

    Parameters
    ----------
    data_url, source_ids, retrieval_type, folder, batch_size, data_structure
        As for :func:`datalink_batches`.
    max_workers : int
        Requests at a time.
    offline : bool
        Use the replies on disk only (:func:`labeltransfer.io.remote.download_many`).
    timeout : float
        Seconds the server may stay silent (it builds a batch before it answers).

    Returns
    -------
    list of Path, one zip archive per batch.

    Raises
    ------
    GaiaArchiveError
        The server refuses ``data_structure`` (the message names its other name), or a
        reply holds a source not asked for.
    DownloadError
        Any other failed request (:func:`labeltransfer.io.remote.download_many`).
    """
    remotes = datalink_batches(data_url, source_ids, retrieval_type, folder, batch_size, data_structure)
    try:
        paths = download_many(remotes, max_workers=max_workers, offline=offline, timeout=timeout)
    except DownloadError as error:
        refusal = _STRUCTURE_REFUSED.search(str(error))
        if refusal is None:
            raise
        other = STRUCTURE_ALIASES[data_structure]
        raise GaiaArchiveError(
            f"{data_url} refuses DATA_STRUCTURE {data_structure!r} ({refusal[0]}): ask for {other!r}, the same "
            f"layout under its {'former' if data_structure.startswith('DATAMODEL') else 'new'} name "
            "(archives: gaia: data_structure)") from error
    n_absent = sum(check_datalink_reply(remote) for remote in remotes)
    log.info("%s: %d source_ids in %d %s %s replies, %d of them without the product (absent from the replies)",
             data_url, sum(len(r.form["ID"].split(",")) for r in remotes), len(remotes), retrieval_type,
             data_structure, n_absent)
    return paths


def reply_source_ids(path):
    """The distinct source_ids of a DataLink reply (its tables' ``source_id`` column, or the
    ``Gaia DR3 <source_id>`` of a per-source file without one), as int64."""
    ids = []
    for name, source in table_files(path, GaiaArchiveError):
        table = pd.read_csv(source, comment="#", usecols=lambda column: column == "source_id", dtype=str)
        from_name = NAME_SOURCE_ID.search(name)
        if "source_id" in table.columns:
            ids.append(table["source_id"].to_numpy(dtype=np.int64))
        elif from_name is not None:
            ids.append(np.array([from_name[1]], dtype=np.int64))
        else:
            raise GaiaArchiveError(f"{name}: no source_id column and no 'Gaia DR3 <source_id>' in the file name")
    return np.unique(np.concatenate(ids)) if ids else np.empty(0, dtype=np.int64)


def check_datalink_reply(remote):
    """Check the reply of one DataLink request against the IDs it asked for.

    Returns
    -------
    int
        The IDs asked for that the reply lacks (sources without the product).

    Raises
    ------
    GaiaArchiveError
        The reply holds sources that were not asked for: it is not this request's reply.
    """
    asked, replied = np.array(remote.form["ID"].split(","), dtype=np.int64), reply_source_ids(remote.path)
    foreign = np.setdiff1d(replied, asked)
    if foreign.size:
        raise GaiaArchiveError(f"{remote.path}: holds {foreign.size} source_ids that its request did not ask for "
                               f"(e.g. {foreign[0]}): it is not that request's reply; delete it to fetch it again")
    return int(np.setdiff1d(asked, replied).size)
