"""The Gaia archive: astrometry by TAP/ADQL (pyvo), XP and RVS spectra by DataLink, in batches.

- ``query_sources`` asks the archive's TAP service for the ``gaiadr3.gaia_source`` rows of
  given source_ids, ``batch_size`` IDs per synchronous ADQL query (``WHERE source_id IN``).
- ``datalink_batches`` turns source_ids into DataLink requests of the Gaia data server, which
  :func:`labeltransfer.io.remote.download_many` fetches (POSTed: the ID lists are long). The
  form is the one astroquery's ``Gaia.load_data`` sends, as GaiaXPy calls it (``FORMAT=csv``,
  ``RELEASE=Gaia DR3``, ``VALID_DATA=false``, ``USE_ZIP_ALWAYS=true``), so that every reply is
  a zip archive; each batch is read straight from its zip by the XP and RVS readers
  (:func:`labeltransfer.io.table_files`).

``DATA_STRUCTURE`` says how the reply is laid out. ``RAW`` (the default): one CSV file for the
batch, one row per source, arrays (coefficients, fluxes) written in one cell. ``INDIVIDUAL``:
one file per source (``XP_CONTINUOUS-Gaia DR3 <source_id>.csv``), in which XP has its one row
and RVS one row per pixel. The server refuses ``COMBINED`` since 2024 (HTTP 500 "Invalid Data
Structure parameter: 'COMBINED', valid ones are: RAW, INDIVIDUAL"). astroquery's development
version of 2026 renames RAW to ``DATAMODEL_GAIA`` and INDIVIDUAL to ``DATAMODEL_STANDARD``,
names the operational server did not yet accept when that change was made (both are allowed
here, for when it does). The readers take either layout.
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .remote import RemoteFile

__all__ = ["GAIA_SOURCE_COLUMNS", "DATA_STRUCTURES", "query_sources", "datalink_form", "datalink_batches"]

log = logging.getLogger(__name__)

#: Columns of gaiadr3.gaia_source a task uses.
GAIA_SOURCE_COLUMNS = ("source_id", "ra", "dec", "pmra", "pmdec", "parallax", "parallax_error",
                       "phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag",
                       "has_xp_continuous", "has_rvs")
#: DataLink DATA_STRUCTURE values: one file per batch (one row per source; RAW, renamed
#: DATAMODEL_GAIA) or one file per source (INDIVIDUAL, renamed DATAMODEL_STANDARD).
DATA_STRUCTURES = ("RAW", "INDIVIDUAL", "DATAMODEL_GAIA", "DATAMODEL_STANDARD")


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


def datalink_batches(data_url, source_ids, retrieval_type, folder, batch_size=5000, data_structure="RAW"):
    """The DataLink requests (as RemoteFiles) that fetch one product for ``source_ids``.

    Parameters
    ----------
    data_url : str
        The Gaia data server, e.g. ``https://gea.esac.esa.int/data-server/data``.
    source_ids : array of int
    retrieval_type : {"XP_CONTINUOUS", "RVS", ...}
    folder : path
        Where the batch replies go (``<retrieval_type>_<data_structure>_<first id>_<n>.zip``).
    batch_size : int
        IDs per request (the archive's limit for XP products is 5,000).
    data_structure : str
        Layout of the reply, one of ``DATA_STRUCTURES`` (module docstring).

    Returns
    -------
    list of RemoteFile
        POSTed, each reply checked to be a whole zip archive.
    """
    ids = np.unique(np.asarray(source_ids, dtype=np.int64))
    remotes = []
    for start in range(0, len(ids), batch_size):
        batch = ids[start:start + batch_size]
        path = Path(folder) / f"{retrieval_type}_{data_structure}_{batch[0]}_{len(batch)}.zip"
        remotes.append(RemoteFile(data_url, path, form=datalink_form(batch, retrieval_type, data_structure),
                                  zipped=True))
    return remotes
