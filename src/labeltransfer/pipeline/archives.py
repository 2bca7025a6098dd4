"""The archive tasks' downloads: the catalogues, the allStar labels, the Gaia sources and spectra, the
LAMOST spectra.

Every download goes through :mod:`labeltransfer.io.remote` (resumable, retried, verified,
``offline`` aware). LAMOST spectrum requests carry the user's access token, read here from
the environment variable the config names (never a Snakemake param: Snakemake records params)
and written to no file or message. The APOGEE labels are read once for all tasks; each task's
source adapter (:mod:`labeltransfer.sources`) then joins them to its spectra, and its sample
is built like every other task's (:func:`labeltransfer.pipeline.sample.prepare_sample`).
"""

import logging
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ..io.allstar import read_allstar
from ..io.checksums import DownloadError
from ..io.gaia_archive import fetch_datalink, query_sources
from ..io.remote import RemoteFile, download, download_many
from ..sources.apogee import read_apogee_labels
from ..sources.files import write_manifest

__all__ = ["GAIA_PRODUCTS", "fetch_file", "read_labels", "query_gaia", "fetch_gaia_spectra", "fetch_datalink_replies",
           "fetch_lamost_spectra"]

log = logging.getLogger(__name__)

#: Gaia spectra a task can use: DataLink retrieval type and the gaia_source flag saying a star has it.
GAIA_PRODUCTS = {"xp_continuous": ("XP_CONTINUOUS", "has_xp_continuous"), "rvs": ("RVS", "has_rvs")}


def fetch_file(*, url, checksum, path, offline, timeout):
    """One archive file (a catalogue), resumable and verified."""
    download(RemoteFile(url, Path(path), checksum), offline=offline, timeout=timeout)


def read_labels(*, allstar_path, label_names, cuts, labels_path):
    """The allStar stars that pass the cuts, with labels, photometry and Gaia astrometry (CSV)."""
    table = read_allstar(allstar_path, label_names, bad_aspcapflags=cuts["bad_aspcapflags"],
                         bad_starflags=cuts["bad_starflags"], min_snr=cuts["min_snr"])
    table.to_csv(labels_path, index=False)


def query_gaia(*, labels_path, tap_url, batch_size, timeout, sources_path):
    """gaia_source rows (positions, proper motions, which spectra exist) of the labelled stars."""
    ids = read_apogee_labels(labels_path)["source_id"].to_numpy()
    query_sources(tap_url, ids[ids > 0], batch_size=batch_size, timeout=timeout).to_csv(sources_path, index=False)


def fetch_gaia_spectra(*, sources_path, product, gaia, max_workers, timeout, offline, manifest_path):
    """DataLink batches of one product for the stars that have it; the manifest lists the replies.

    ``gaia`` is the ``archives: gaia`` section of the config (``data_url``,
    ``datalink_batch_size``, ``data_structure``). Each reply, a zip archive, is read as it is
    by the XP and RVS readers.
    """
    retrieval_type, flag = GAIA_PRODUCTS[product]
    sources = pd.read_csv(sources_path)
    has = sources[flag].astype(str).str.lower().isin(["true", "1"])
    log.info("%s: %d of %d sources have %s", sources_path, has.sum(), len(sources), retrieval_type)
    replies = fetch_datalink(gaia["data_url"], sources.loc[has, "source_id"], retrieval_type,
                             Path(manifest_path).parent / "batches", batch_size=gaia["datalink_batch_size"],
                             data_structure=gaia["data_structure"], max_workers=max_workers, offline=offline,
                             timeout=timeout)
    write_manifest(replies, manifest_path)


def fetch_datalink_replies(source_ids, product, data_url, folder, timeout=600, data_structure="RAW"):
    """The DataLink replies (zip archives, by default of ``RAW`` CSV tables, one row per source) of
    one Gaia product (``xp_continuous`` or ``rvs``) for ``source_ids``, fetched from ``data_url`` in
    batches of 5,000 into ``folder``, as the archive tasks fetch them, or reused from there when
    the very same request was made before; each checked against the IDs it asked for; a list of paths."""
    retrieval_type, _ = GAIA_PRODUCTS[product]
    return fetch_datalink(data_url, source_ids, retrieval_type, folder, data_structure=data_structure,
                          timeout=timeout)


def fetch_lamost_spectra(*, matches_path, spectrum_url, token_env, max_workers, timeout, offline, manifest_path):
    """The matched stars' LAMOST spectra, one FITS file per obsid; the manifest lists them.

    ``spectrum_url`` holds ``{obsid}``; the access token in the environment variable
    ``token_env`` (if set) goes with every request as the ``token`` query field, as pylamost
    and MultimodalUniverse send it.
    """
    obsids = pd.read_csv(matches_path)["obsid"].to_numpy()
    folder = Path(manifest_path).parent / "fits"
    token = _token_query(token_env)
    remotes = [RemoteFile(spectrum_url.format(obsid=obsid), folder / f"{obsid}.fits.gz", secret_query=token)
               for obsid in obsids]
    with _token_hint(token_env, token):
        write_manifest(download_many(remotes, max_workers=max_workers, offline=offline, timeout=timeout),
                       manifest_path)


def _token_query(token_env):
    """``{"token": <value>}`` from the environment variable ``token_env``; None where it is unset or empty."""
    token = os.environ.get(token_env, "").strip() if token_env else ""
    if token:
        log.info("LAMOST access token: from $%s", token_env)
    else:
        log.info("LAMOST access token: none (%s)", f"${token_env} is not set" if token_env else "no token_env")
    return {"token": token} if token else None


@contextmanager
def _token_hint(token_env, token):
    """Say, in a refusal (HTTP 401, 403) of requests sent without a token, how to send one."""
    try:
        yield
    except DownloadError as error:
        if token is None and re.search(r"HTTP 40[13]\b", str(error)):
            where = (f"the environment variable {token_env}" if token_env else
                     "an environment variable and its name in archives: lamost: token_env")
            raise DownloadError(f"no LAMOST access token was sent (put yours in {where}): {error}") from error
        raise
