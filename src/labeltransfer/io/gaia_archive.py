"""The Gaia archive: astrometry by TAP/ADQL (pyvo), XP and RVS spectra by DataLink, in batches.

- ``query_sources`` asks the archive's TAP service for the ``gaiadr3.gaia_source`` rows of
  given source_ids, ``batch_size`` IDs per synchronous ADQL query (``WHERE source_id IN``).
- ``datalink_batches`` turns source_ids into DataLink requests of the Gaia data server
  (``RETRIEVAL_TYPE=XP_CONTINUOUS`` or ``RVS``, CSV, one combined file per batch), which
  :func:`labeltransfer.io.remote.download_many` fetches (POSTed: the ID lists are long).
- ``unpack_datalink`` opens what the data server returns (a zip of CSV files, or a CSV).
"""

import io
import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .remote import RemoteFile

__all__ = ["GAIA_SOURCE_COLUMNS", "query_sources", "datalink_batches", "unpack_datalink"]

log = logging.getLogger(__name__)

#: Columns of gaiadr3.gaia_source a task uses.
GAIA_SOURCE_COLUMNS = ("source_id", "ra", "dec", "pmra", "pmdec", "parallax", "parallax_error",
                       "phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag",
                       "has_xp_continuous", "has_rvs")


def query_sources(tap_url, source_ids, batch_size=2000, columns=GAIA_SOURCE_COLUMNS, table="gaiadr3.gaia_source"):
    """The archive's rows for ``source_ids`` (IDs it does not know are absent from the result).

    Parameters
    ----------
    tap_url : str
        TAP service, e.g. ``https://gea.esac.esa.int/tap-server/tap``.
    source_ids : array of int
    batch_size : int
        IDs per ADQL query.
    columns : sequence of str
    table : str

    Returns
    -------
    pandas.DataFrame, one row per known source_id.
    """
    import pyvo  # the VO client, needed only when the archive is asked

    service = pyvo.dal.TAPService(tap_url)
    ids = np.unique(np.asarray(source_ids, dtype=np.int64))
    frames = []
    for start in range(0, len(ids), batch_size):
        batch = ids[start:start + batch_size]
        query = (f"SELECT {', '.join(columns)} FROM {table} "
                 f"WHERE source_id IN ({', '.join(map(str, batch))})")
        frames.append(service.run_sync(query, maxrec=len(batch)).to_table().to_pandas())
        log.info("%s: %d of %d source_ids asked, %d rows so far", tap_url, start + len(batch), len(ids),
                 sum(len(f) for f in frames))
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))
    n_unknown = len(ids) - len(result)
    if n_unknown:
        log.warning("%s: %d source_ids are not in %s", tap_url, n_unknown, table)
    return result


def datalink_batches(data_url, source_ids, retrieval_type, folder, batch_size=5000):
    """The DataLink requests (as RemoteFiles) that fetch one product for ``source_ids``.

    Parameters
    ----------
    data_url : str
        The Gaia data server, e.g. ``https://gea.esac.esa.int/data-server/data``.
    source_ids : array of int
    retrieval_type : {"XP_CONTINUOUS", "RVS", ...}
    folder : path
        Where the batch files go (``<retrieval_type>_<first id>_<n>.zip``).
    batch_size : int
        IDs per request (the archive's limit for XP products is 5,000).

    Returns
    -------
    list of RemoteFile
    """
    ids = np.unique(np.asarray(source_ids, dtype=np.int64))
    remotes = []
    for start in range(0, len(ids), batch_size):
        batch = ids[start:start + batch_size]
        form = {"RETRIEVAL_TYPE": retrieval_type, "ID": ",".join(map(str, batch)), "FORMAT": "CSV",
                "DATA_STRUCTURE": "COMBINED", "RELEASE": "Gaia DR3", "VALID_DATA": "false"}
        path = Path(folder) / f"{retrieval_type}_{batch[0]}_{len(batch)}.zip"
        remotes.append(RemoteFile(data_url, path, form=form))
    return remotes


def unpack_datalink(path, folder):
    """The CSV files of a data-server answer (zip, or one CSV), written under ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = Path(path).read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        target = folder / (Path(path).stem + ".csv")
        target.write_bytes(data)
        return [target]
    paths = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            if member.lower().endswith((".csv", ".csv.gz")):
                target = folder / Path(member).name
                target.write_bytes(archive.read(member))
                paths.append(target)
    if not paths:
        raise ValueError(f"{path}: the data server's zip holds no CSV file ({archive.namelist()})")
    return paths
