"""The information bound: the Cramer-Rao bound of the S/N ladder's test stars from a trained Cannon's
model, each method's efficiency against it, and the figure."""

import logging

import numpy as np
import pandas as pd

from ..data.split import draw_test_rows
from ..diagnostics.influence import giant_dwarf_masks, pixel_shares
from .jobs import load_features, load_trained

__all__ = ["XP_SOURCES", "XP_COEFFICIENTS", "information_bound", "evaluate_information", "plot_information"]

log = logging.getLogger(__name__)

#: Sources whose spectra are Gaia XP spectra sampled from their coefficients.
XP_SOURCES = ("xp_library", "gaia_xp")
#: Coefficients behind an XP sampled spectrum (55 BP + 55 RP): at most this many independent
#: numbers, so that pixels taken as independent overstate the information.
XP_COEFFICIENTS = 110


def information_bound(*, model_path, sample_path, split_path, method, colours, seed, levels, max_stars, bound_path,
                      pixels_path):
    """The Cramer-Rao bound of the ladder's test stars at each S/N, from a trained Cannon's model.

    The stars are those of :func:`predict_snr_ladder` (the same draw, a level holding the stars
    at least that bright) with every reference label; each star's Fisher matrix is evaluated at
    its reference labels with its flux errors scaled to the level
    (:meth:`labeltransfer.methods.cannon_diagnostics.CannonDiagnostics.label_information`). The
    bound takes the pixels as independent; for XP spectra, which are sampled from at most
    ``XP_COEFFICIENTS`` numbers, ``<label>_bound_correlated`` is the bound times
    sqrt(n_pixels / XP_COEFFICIENTS), what it would be were the information only that of as
    many independent numbers as there are coefficients (the real bound lies between the two).
    The pixel table gives, at the stars' own S/N, each pixel's share of each label's information
    (the diagonal of the Fisher matrix), median over giants and over dwarfs, renormalised to sum
    to one (:func:`labeltransfer.diagnostics.influence.pixel_shares`, as the methods' influences).
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    stars = stars.subset(np.flatnonzero(np.all(np.isfinite(stars.labels), axis=1)))
    n_pixels = stars.spectra.flux.shape[1]
    xp = sample.provenance.get("source") in XP_SOURCES
    correlation = np.sqrt(n_pixels / XP_COEFFICIENTS) if xp and n_pixels > XP_COEFFICIENTS else 1.0
    parts = []
    for level in levels:
        kept = np.flatnonzero(stars.snr >= level)
        if not kept.size:
            continue
        fisher, _ = model.label_information(stars.spectra.subset(kept), stars.labels[kept],
                                            noise_factor=stars.snr[kept] / level)
        bound = np.sqrt(np.diagonal(np.linalg.pinv(fisher), axis1=1, axis2=2))
        table = pd.DataFrame({"level": level, "apogee_id": stars.apogee_id[kept], "snr": stars.snr[kept]})
        for k, name in enumerate(stars.label_names):
            table[f"{name}_bound"], table[f"{name}_bound_correlated"] = bound[:, k], correlation * bound[:, k]
        parts.append(table)
        log.info("S/N %g: median bound %s", level, dict(zip(stars.label_names, np.round(np.median(bound, 0), 4))))
    pd.concat(parts, ignore_index=True).to_csv(bound_path, index=False)
    per_pixel = model.label_information(stars.spectra, stars.labels)[1]
    pixel_shares(per_pixel, stars.spectra.wavelength, giant_dwarf_masks(stars.labels, stars.label_names),
                 stars.label_names).to_csv(pixels_path, index=False)


def evaluate_information(*, ladder_path, bound_path, labels, table_path):
    """Each method's efficiency at each S/N of the ladder: the median Cramer-Rao bound of the
    ladder's stars over the method's scatter (all stars), pixels independent and correlated."""
    ladder = pd.read_csv(ladder_path)
    bounds = pd.read_csv(bound_path).groupby("level").median(numeric_only=True)
    rows = []
    for _, r in ladder[(ladder["subset"] == "all") & ladder["label"].isin(labels)].iterrows():
        if r["level"] not in bounds.index:
            continue
        bound = bounds.loc[r["level"], f"{r['label']}_bound"]
        correlated = bounds.loc[r["level"], f"{r['label']}_bound_correlated"]
        rows.append({"method": r["method"], "level": r["level"], "label": r["label"], "scatter": r["scatter"],
                     "bound": bound, "bound_correlated": correlated, "efficiency": bound / r["scatter"],
                     "efficiency_correlated": correlated / r["scatter"]})
    pd.DataFrame(rows).to_csv(table_path, index=False)


def plot_information(*, table_path, pixels_path, labels, figure_path):
    """The information figure (:func:`labeltransfer.diagnostics.plots.information`)."""
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    plots.save(diagnostic_plots.information(pd.read_csv(table_path), pd.read_csv(pixels_path), labels), figure_path)
