"""Workflow steps that prepare the data: cross-match, quality cuts, sample and split.

The Snakemake scripts of ``workflow/scripts`` are thin wrappers around these functions, which
take paths and plain config values, so that each step also runs and is tested without Snakemake.
"""

import json
import logging

import numpy as np
import pandas as pd

from .. import plots
from ..crossmatch import crossmatch, decode_apogee_id, match_statistics
from ..io.parallax_catalogue import read_parallax_catalogue
from ..io.xp_library import read_xp_library
from ..sample import build_sample
from ..split import split_sample, star_groups, write_split
from ._json import write_json

__all__ = ["crossmatch_parallax", "prepare_sample", "build_labelled", "finish_sample"]

log = logging.getLogger(__name__)


def crossmatch_parallax(*, library_path, catalogue_path, radius_arcsec, matches_path, stats_path,
                        figure_path):
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
    index, separation = crossmatch(ra, dec, catalogue["ra"][cat_rows], catalogue["dec"][cat_rows],
                                   radius_arcsec)
    matched = index >= 0
    row = np.where(matched, cat_rows[np.maximum(index, 0)], 0)
    table = pd.DataFrame({
        "apogee_id": ids, "ra": ra, "dec": dec, "matched": matched,
        "separation_arcsec": np.where(matched, separation, np.nan),
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
    plots.save(plots.separation_histogram(separation, radius_arcsec), figure_path)


def prepare_sample(*, library_path, matches_path, settings, sample_path, split_path):
    """Quality cuts, masked labels, features, the optional star cap and the frozen split.

    ``settings`` holds the config's ``labels``, ``quality``, ``colours``, ``split``,
    ``max_stars`` and ``seed``.
    """
    library = read_xp_library(library_path)
    matches = pd.read_csv(matches_path, dtype={"apogee_id": str})
    finish_sample(build_labelled(library, matches, settings, str(library_path)), settings, sample_path, split_path)


def build_labelled(library, matches, settings, source):
    """``build_sample`` with the config's label, quality and colour settings."""
    return build_sample(library, matches, settings["labels"], settings["quality"], settings["colours"], source=source)


def finish_sample(sample, settings, sample_path, split_path):
    """Cap the sample at ``max_stars`` (seeded), log the labels it has, write it and its split (grouped by star)."""
    max_stars, seed = settings["max_stars"], settings["seed"]
    if max_stars is not None and len(sample.ids) > max_stars:
        rows = np.sort(np.random.default_rng(seed).choice(len(sample.ids), max_stars, replace=False))
        log.info("capped the sample at %d of %d stars (seed %d)", max_stars, len(sample.ids), seed)
        sample = sample.subset(rows)
    for k, name in enumerate(sample.label_names):
        log.info("%s: %d stars with a reference value, %d masked", name,
                 np.isfinite(sample.labels[:, k]).sum(), np.isnan(sample.labels[:, k]).sum())
    groups = star_groups(len(sample.ids), sample.source_id, sample.spectra.flux)
    if groups.max() + 1 < len(groups):
        log.info("split by star: %d rows are %d stars (rows sharing a Gaia source_id or a spectrum go to "
                 "one split)", len(groups), groups.max() + 1)
    table = split_sample(sample.ids, settings["split"], seed, groups=groups)
    log.info("split: %s", table["split"].value_counts().to_dict())
    sample.save(sample_path)
    write_split(table, split_path)
