"""The wavelength subsets: a method retrained on the pixels of each band alone, against all pixels on
the same test stars (the scatter's paired difference with its bootstrap interval)."""

import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from ..data.predictions import sample_predictions
from ..data.split import draw_test_rows
from ..evaluation.metrics import giant_dwarf_masks
from ..evaluation.summary import Resamples, curve_metrics, paired_difference
from ..methods import TooFewStarsError
from ..methods.device import set_for_job
from .files import read_predictions
from .jobs import CURVE_RESAMPLES, training_order, fit_fresh, load_features, load_trained

__all__ = ["wavelength_subsets", "within_span", "evaluate_wavelength_subsets"]

log = logging.getLogger(__name__)


def wavelength_subsets(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus, bands,
                       train_size, max_stars, predictions_path):
    """Label the test stars with the method retrained on the pixels of each band alone.

    ``bands`` maps a name to the band's ``[lo, hi]`` wavelengths (nm, inclusive). Every model,
    and a reference on all pixels (band ``all``), is trained on the first ``train_size`` stars of
    the learning curve's permutation of the training split, validated on the whole validation
    split, and labels the same (at most ``max_stars``) test stars; where ``train_size`` is not
    below the training split, the workflow's own model is the reference. A band without a pixel
    of the task's spectra, or one the method has too few stars for, is left out (logged); the
    MLP's ``flux_components`` are capped at what the band's training spectra span (logged). The
    table's ``band`` and ``n_pixels`` columns say which model.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    order = training_order(rows, seed)
    train, validation = sample.subset(np.sort(order[:train_size])), sample.subset(rows["validation"])
    wavelength = sample.spectra.wavelength
    parts = []
    for band, (lo, hi) in {"all": (wavelength.min(), wavelength.max()), **bands}.items():
        keep = (wavelength >= lo) & (wavelength <= hi)
        if not keep.any():
            log.info("band %s (%g-%g nm): no pixel of this task's spectra (%.0f-%.0f nm); left out", band, lo, hi,
                     wavelength.min(), wavelength.max())
            continue
        if band == "all" and train_size >= len(order):
            model = load_trained(method, model_path, provenance, seed)
            set_for_job(model, threads, gpus)
        else:
            band_train = _on_pixels(train, keep)
            model = fit_fresh(within_span(method, band_train.spectra, band), seed, threads, gpus, band_train,
                               _on_pixels(validation, keep), f"band {band} ({keep.sum()} pixels, {lo:g}-{hi:g} nm)")
        if model is not None:
            parts.append(sample_predictions(stars, *model.predict(stars.spectra.pixels(keep)),
                                            leading={"band": band, "n_pixels": int(keep.sum())}))
    if not parts:
        raise TooFewStarsError(f"{method['type']}: no model of any band could be trained on {len(train.apogee_id)} stars")
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)


def within_span(method, spectra, band):
    """``method`` with its ``flux_components`` (the MLP's whitened components) capped at what the
    band's training ``spectra`` span (a part of an XP spectrum holds fewer dimensions), logged."""
    wanted = method["params"].get("flux_components")
    if not wanted:
        return method
    from ..methods.networks import spanned_components  # torch: only for the networks' jobs

    flux = spectra.masked_flux()
    spanned = spanned_components(np.nan_to_num((flux - np.nanmean(flux, axis=0)) / (np.nanstd(flux, axis=0) + 1e-6)))
    if spanned >= wanted:
        return method
    log.info("band %s: flux_components %d capped at the %d components its training spectra span", band, wanted,
             spanned)
    return {**method, "params": {**method["params"], "flux_components": spanned}}


def _on_pixels(sample, keep):
    """A copy of ``sample`` whose spectra keep only the pixels ``keep``."""
    return replace(sample, spectra=sample.spectra.pixels(keep))


def evaluate_wavelength_subsets(*, methods, prediction_paths, labels, seed, table_path):
    """The wavelength-subset table: ``curve_metrics`` by ``band``, and each band's scatter minus
    that of the same method on all pixels (``minus_all``) with its paired 95% bootstrap interval
    over the same test stars (``minus_all_lo95``, ``minus_all_hi95``; an interval holding zero is
    a tie)."""
    tables = read_predictions(methods, prediction_paths)
    table = curve_metrics(tables, labels, "band", n_resamples=CURVE_RESAMPLES, seed=seed)
    rng = np.random.default_rng(seed)
    for column in ("minus_all", "minus_all_lo95", "minus_all_hi95"):
        table[column] = np.nan
    for method, predictions in tables.items():
        reference = predictions[predictions["band"] == "all"].set_index("apogee_id")
        for band, part in predictions[predictions["band"] != "all"].groupby("band"):
            part = part.set_index("apogee_id")
            for subset, mask in giant_dwarf_masks(part["logg_ref"].to_numpy()).items():
                for label in labels:
                    residuals = np.column_stack([(part[label] - part[f"{label}_ref"])[mask],
                                                 (reference[label] - reference[f"{label}_ref"]).reindex(
                                                     part.index[mask])])
                    row = ((table["method"] == method) & (table["band"] == band) & (table["subset"] == subset)
                           & (table["label"] == label))
                    pair = paired_difference(Resamples(residuals, CURVE_RESAMPLES, rng), 0, 1)
                    table.loc[row, ["minus_all", "minus_all_lo95", "minus_all_hi95"]] = [
                        pair["difference"], pair["difference_lo95"], pair["difference_hi95"]]
    table.to_csv(table_path, index=False)
