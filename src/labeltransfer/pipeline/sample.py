"""The sample of every task: its cross-match and the figure of the cross-match's separations, and its
sample and frozen split.

A task's ``source`` (``xp_library``, ``gaia_xp``, ``gaia_rvs``, ``lamost``) picks its
cross-match (the library with the parallax catalogue, or the allStar stars with the LAMOST
catalogue; the Gaia sources need none: they join on source_id) and its source adapter
(:mod:`labeltransfer.sources`); from the adapter's typed record on, every step is the same
for all sources. The Snakemake scripts of ``workflow/scripts`` are thin wrappers around these
functions, which take paths and plain config values, so that each step also runs and is tested
without Snakemake.
"""

import json
import logging

import numpy as np
import pandas as pd

from ..data.crossmatch import crossmatch as match_on_sky
from ..data.crossmatch import decode_apogee_id, match_statistics, separation_percentiles
from ..data.sample import build_sample
from ..data.split import freeze_split, split_sample, star_groups
from ..io.lamost_catalogue import read_lamost_catalogue
from ..io.parallax_catalogue import read_parallax_catalogue
from ..sources import read_stars
from ..sources.apogee import read_apogee_labels
from ..sources.lamost import match_lamost
from ..xp.library import read_xp_library
from .files import read_json, write_json

__all__ = ["SOURCES_WITH_CROSSMATCH", "crossmatch", "crossmatch_parallax", "crossmatch_lamost", "prepare_sample",
           "finish_sample", "plot_separation"]

log = logging.getLogger(__name__)

#: Sources whose tasks have a cross-match step.
SOURCES_WITH_CROSSMATCH = ("xp_library", "lamost")


def crossmatch(*, source, inputs, radius_arcsec, lamost, matches_path, stats_path):
    """The cross-match of a task: ``inputs`` holds ``library`` and ``catalogue`` (xp_library)
    or ``labels``, ``catalogue`` and ``sources`` (lamost). The matches' ``separation_arcsec``,
    the separation to the nearest catalogue entry of each star looked up on the sky (every library
    star, matched or not; the LAMOST stars matched by position), is what the separation figure
    (:func:`labeltransfer.pipeline.sample.plot_separation`) draws."""
    outputs = {"matches_path": matches_path, "stats_path": stats_path}
    if source == "xp_library":
        crossmatch_parallax(library_path=inputs["library"], catalogue_path=inputs["catalogue"],
                            radius_arcsec=radius_arcsec, **outputs)
    elif source == "lamost":
        crossmatch_lamost(labels_path=inputs["labels"], catalogue_path=inputs["catalogue"],
                          sources_path=inputs["sources"], settings=lamost, **outputs)
    else:
        raise ValueError(f"a {source} task has no cross-match (sources with one: {SOURCES_WITH_CROSSMATCH})")


def crossmatch_parallax(*, library_path, catalogue_path, radius_arcsec, matches_path, stats_path):
    """Match the library stars (positions decoded from APOGEE IDs) to the parallax catalogue."""
    library = read_xp_library(library_path)
    catalogue = read_parallax_catalogue(catalogue_path)
    ids = library["apogee_id"]
    ra, dec, decoded = decode_apogee_id(ids)
    if (~decoded).any():
        log.warning("%d APOGEE IDs do not decode to a position and are not matched, e.g. %s",
                    (~decoded).sum(), ", ".join(ids[~decoded][:5]))
    has_position = np.isfinite(catalogue["ra"]) & ~((catalogue["ra"] == 0) & (catalogue["dec"] == 0))
    cat_rows = np.flatnonzero(has_position)
    index, separation = match_on_sky(ra, dec, catalogue["ra"][cat_rows], catalogue["dec"][cat_rows],
                                   radius_arcsec)
    matched = index >= 0
    row = np.where(matched, cat_rows[np.maximum(index, 0)], 0)
    table = pd.DataFrame({
        "apogee_id": ids, "ra": ra, "dec": dec, "matched": matched,
        "separation_arcsec": separation,  # to the nearest entry, also beyond the radius (not matched)
        "parallax": np.where(matched, catalogue["parallax"][row], np.nan),
        "parallax_error": np.where(matched, catalogue["parallax_error"][row], np.nan),
        "gaia_dr2_g": np.where(matched, catalogue["g"][row], np.nan),
    })
    stats = match_statistics(index, separation, decoded)
    stats["radius_arcsec"] = radius_arcsec
    stats["n_with_parallax"] = int(np.isfinite(table["parallax"]).sum())
    stats["undecoded_examples"] = ids[~decoded][:10].tolist()
    log.info("cross-match: %s", json.dumps(stats))
    table.to_csv(matches_path, index=False)
    write_json(stats_path, stats)


def crossmatch_lamost(*, labels_path, catalogue_path, sources_path, settings, matches_path, stats_path):
    """The best LAMOST spectrum of each labelled star (source_id, else position at the LAMOST epoch)."""
    labels = read_apogee_labels(labels_path)
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


def prepare_sample(*, source, inputs, lamost, settings, sample_path, split_path):
    """The sample and frozen split of a task, whatever its source.

    The source's adapter reads ``inputs`` (name -> path, see :mod:`labeltransfer.sources`) into
    one typed record; the quality cuts, masked labels, features, optional star cap and split
    follow. ``settings`` holds the config's ``labels``, ``quality``, ``colours``, ``split``,
    ``max_stars`` and ``seed``; ``lamost`` its ``archives: lamost`` section.
    """
    stars = read_stars(source, inputs, label_names=list(settings["labels"]), lamost=lamost)
    log.info("%d stars from %s: %s", len(stars), stars.describe(), json.dumps(stars.provenance))
    sample = build_sample(stars, settings["labels"], settings["quality"], settings["colours"])
    finish_sample(sample, settings, sample_path, split_path)


def finish_sample(sample, settings, sample_path, split_path):
    """Cap the sample at ``max_stars`` (seeded), log the labels it has, write it and its split (grouped by star;
    the split's fingerprint recorded in the sample, so that an edit of the split is refused)."""
    max_stars, seed = settings["max_stars"], settings["seed"]
    if max_stars is not None and len(sample.apogee_id) > max_stars:
        rows = np.sort(np.random.default_rng(seed).choice(len(sample.apogee_id), max_stars, replace=False))
        log.info("capped the sample at %d of %d stars (seed %d)", max_stars, len(sample.apogee_id), seed)
        sample = sample.subset(rows)
    for k, name in enumerate(sample.label_names):
        log.info("%s: %d stars with a reference value, %d masked", name,
                 np.isfinite(sample.labels[:, k]).sum(), np.isnan(sample.labels[:, k]).sum())
    groups = star_groups(len(sample.apogee_id), sample.source_id, sample.spectra.flux)
    if groups.max() + 1 < len(groups):
        log.info("split by star: %d rows are %d stars (rows sharing a Gaia source_id or a spectrum go to "
                 "one split)", len(groups), groups.max() + 1)
    table = split_sample(sample.apogee_id, settings["split"], seed, groups=groups)
    log.info("split: %s", table["split"].value_counts().to_dict())
    freeze_split(sample, table, sample_path, split_path)


def plot_separation(*, matches_path, stats_path, figure_path):
    """The cross-match's separations (``separation_arcsec`` of its matches) with its match radius."""
    from ..evaluation import plots

    separation = pd.read_csv(matches_path, usecols=["separation_arcsec"])["separation_arcsec"].to_numpy()
    plots.save(plots.separation_histogram(separation, read_json(stats_path)["radius_arcsec"]), figure_path)
