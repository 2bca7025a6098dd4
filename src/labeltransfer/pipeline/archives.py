"""Workflow steps of the archive tasks: download, read, query, match, and build the sample.

Every download goes through :mod:`labeltransfer.io.remote` (resumable, retried, verified,
``offline`` aware). The APOGEE labels are read once for all tasks; each task then joins them
to its spectra (Gaia XP or RVS on source_id, LAMOST by source_id or position) and builds the
sample with the same cuts, features and split as the default library task.
"""

import json
import logging
from pathlib import Path

import pandas as pd

from .. import plots
from ..archive_library import (lamost_on_grid, library_from_gaia_spectra, library_from_lamost, match_lamost,
                               parallax_table)
from ..crossmatch import separation_percentiles
from ..io.allstar import read_allstar
from ..io.gaia_archive import datalink_batches, query_sources
from ..io.gaia_rvs import read_rvs
from ..io.gaia_xp import read_xp_continuous
from ..io.lamost import LamostFormatError, read_lamost_spectrum
from ..io.lamost_catalogue import read_lamost_catalogue
from ..io.remote import RemoteFile, download, download_many
from ..resampling import log_linear_grid
from ._json import write_json
from .data import build_labelled, finish_sample

__all__ = ["GAIA_PRODUCTS", "fetch_file", "read_labels", "query_gaia", "fetch_gaia_spectra", "crossmatch_lamost",
           "fetch_lamost_spectra", "prepare_archive_sample"]

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


def _labels(path):
    return pd.read_csv(path, dtype={"apogee_id": str, "telescope": str, "field": str})


def query_gaia(*, labels_path, tap_url, batch_size, sources_path):
    """gaia_source rows (positions, proper motions, which spectra exist) of the labelled stars."""
    ids = _labels(labels_path)["source_id"].to_numpy()
    query_sources(tap_url, ids[ids > 0], batch_size=batch_size).to_csv(sources_path, index=False)


def _write_manifest(paths, manifest_path):
    pd.DataFrame({"path": [str(p) for p in paths]}).to_csv(manifest_path, index=False)


def _read_manifest(manifest_path):
    return [Path(p) for p in pd.read_csv(manifest_path)["path"]]


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
    remotes = datalink_batches(gaia["data_url"], sources.loc[has, "source_id"], retrieval_type,
                               Path(manifest_path).parent / "batches", batch_size=gaia["datalink_batch_size"],
                               data_structure=gaia["data_structure"])
    _write_manifest(download_many(remotes, max_workers=max_workers, offline=offline, timeout=timeout),
                    manifest_path)


def crossmatch_lamost(*, labels_path, catalogue_path, sources_path, settings, matches_path, stats_path, figure_path):
    """The best LAMOST spectrum of each labelled star (source_id, else position at the LAMOST epoch)."""
    labels = _labels(labels_path)
    catalogue = read_lamost_catalogue(catalogue_path, min_snr=settings["min_snr"])
    matches = match_lamost(labels, catalogue, pd.read_csv(sources_path), settings["radius_arcsec"], settings["epoch"])
    matches.to_csv(matches_path, index=False)
    positional = matches["how"] == "position"
    separation = matches.loc[positional, "separation_arcsec"].to_numpy()
    stats = {"n_labelled_stars": len(labels), "n_catalogue_spectra": len(catalogue),
             "n_matched_stars": len(matches), "n_by_source_id": int((~positional).sum()),
             "n_by_position": int(positional.sum()), "radius_arcsec": settings["radius_arcsec"],
             "epoch": settings["epoch"], "separation_percentiles_arcsec": separation_percentiles(separation)}
    log.info("LAMOST cross-match: %s", json.dumps(stats))
    write_json(stats_path, stats)
    plots.save(plots.separation_histogram(separation, settings["radius_arcsec"]), figure_path)


def fetch_lamost_spectra(*, matches_path, spectrum_url, max_workers, timeout, offline, manifest_path):
    """The matched stars' LAMOST spectra, one FITS file per obsid; the manifest lists them."""
    obsids = pd.read_csv(matches_path)["obsid"].to_numpy()
    folder = Path(manifest_path).parent / "fits"
    remotes = [RemoteFile(spectrum_url.format(obsid=obsid), folder / f"{obsid}.fits.gz") for obsid in obsids]
    _write_manifest(download_many(remotes, max_workers=max_workers, offline=offline, timeout=timeout),
                    manifest_path)


def _lamost_spectra(manifest_path, matches, settings):
    """Readable spectra of the manifest on the task's grid (unreadable files counted, left out)."""
    spectra = []
    for path in _read_manifest(manifest_path):
        try:
            spectra.append(read_lamost_spectrum(path))
        except LamostFormatError as error:
            log.warning("left out: %s", error)
    log.info("LAMOST: %d spectra read", len(spectra))
    grid = log_linear_grid(settings["grid"]["start"], settings["grid"]["stop"], settings["grid"]["step_log10"])
    return lamost_on_grid(spectra, grid, settings["continuum_width"],
                          catalogue_rv=dict(zip(matches["obsid"], matches["rv"])))


def prepare_archive_sample(*, source, labels_path, spectra_manifest, matches_path, lamost, settings, sample_path,
                           split_path):
    """The sample of one archive task (``source``: gaia_xp, gaia_rvs or lamost) and its frozen split.

    ``settings`` as for :func:`labeltransfer.pipeline.data.prepare_sample`.
    """
    allstar = _labels(labels_path)
    label_names = list(settings["labels"])
    if source == "lamost":
        matches = pd.read_csv(matches_path, dtype={"apogee_id": str})
        library = library_from_lamost(allstar, matches, _lamost_spectra(spectra_manifest, matches, lamost),
                                      label_names)
    else:
        reader, what = {"gaia_xp": (read_xp_continuous, "Gaia XP"), "gaia_rvs": (read_rvs, "Gaia RVS")}[source]
        library = library_from_gaia_spectra(allstar, reader(_read_manifest(spectra_manifest)), label_names, what)
    finish_sample(build_labelled(library, parallax_table(allstar), settings, source), settings, sample_path,
                  split_path)
