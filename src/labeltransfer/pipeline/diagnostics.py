"""Workflow steps that look at test stars beyond the summary: made noisier (the S/N ladder), labelled
by models trained on fewer stars (the learning curve) or on parts of the spectrum (the wavelength
subsets), the information their spectra hold, where each method reads each label and where The
Cannon's model does not match them.

Each takes up to ``max_stars`` test stars, drawn with the run's seed, the same for every method
(:func:`labeltransfer.data.split.draw_test_rows`); the tables of predictions are long (one row per
star and S/N level, training size or band) and are scored by
:mod:`labeltransfer.pipeline.diagnostic_summaries`.
"""

import logging
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from ..diagnostics.degrade import degrade_to_snr
from ..methods import TooFewStarsError, make_method
from ..diagnostics.influence import giant_dwarf_masks, pixel_shares
from ..data.split import draw_test_rows
from ..xp.noise import XPNoise
from .modelling import label_table, load_features, load_trained, set_for_job

__all__ = ["XP_SOURCES", "XP_COEFFICIENTS", "predict_snr_ladder", "learning_curve", "wavelength_subsets",
           "fit_fresh", "within_span", "information_bound", "flux_influence", "cannon_anomalies"]

log = logging.getLogger(__name__)

#: Sources whose spectra are Gaia XP spectra sampled from their coefficients.
XP_SOURCES = ("xp_library", "gaia_xp")
#: Coefficients behind an XP sampled spectrum (55 BP + 55 RP): at most this many independent
#: numbers, so that pixels taken as independent overstate the information.
XP_COEFFICIENTS = 110


def predict_snr_ladder(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus, levels,
                       max_stars, predictions_path, noise_path=None):
    """Label the S/N ladder's noisier test spectra with one trained model.

    The test stars are degraded to each S/N of ``levels`` (:func:`labeltransfer.diagnostics.degrade.degrade_to_snr`,
    the noise seeded by the run's seed and the level: the same noisy spectra for every method);
    the table's ``level`` column says which. With ``noise_path`` (an ``XPNoise`` file of these
    stars, :func:`labeltransfer.pipeline.archives.xp_noise_model`) the noise has each star's own XP
    correlations; without, the pixels' noise is independent.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    noise = None if noise_path is None else XPNoise.load(noise_path, stars.source_id)
    log.info("the added noise: %s", "each star's XP covariance" if noise is not None else "independent pixels")
    parts = []
    for k, level in enumerate(levels):
        noisy, kept = degrade_to_snr(stars.spectra, level, np.random.default_rng([seed, k]), noise=noise)
        if not kept.any():
            log.info("S/N %g: no test star is that bright; left out", level)
            continue
        start = time.perf_counter()
        labels, sigma = model.predict(noisy)
        log.info("S/N %g: %d stars labelled in %.1f s", level, kept.sum(), time.perf_counter() - start)
        parts.append(label_table(stars.subset(np.flatnonzero(kept)), labels, sigma, level=level))
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)


def learning_curve(*, model_path, sample_path, split_path, method, colours, seed, threads, gpus, sizes, max_stars,
                   predictions_path):
    """Label the test stars with the method trained on nested subsets of the training split.

    The subsets are the first ``size`` stars of one seeded permutation of the training split
    (each holds the smaller ones); every model is validated (early stopping, calibration) on the
    whole validation split, as the workflow's model is, and that model (all training stars) is
    the last point. A size the method has too few stars for is left out, and so is one not
    smaller than the training split. The table's ``n_train`` column says which model.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    order = _training_order(rows, seed)
    parts = []
    for size in sorted(s for s in sizes if s < len(order)):
        model = fit_fresh(method, seed, threads, gpus, sample.subset(np.sort(order[:size])),
                           sample.subset(rows["validation"]), f"{size} training stars")
        if model is not None:
            parts.append(label_table(stars, *model.predict(stars.spectra), n_train=size))
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    parts.append(label_table(stars, *model.predict(stars.spectra), n_train=len(order)))
    pd.concat(parts, ignore_index=True).to_csv(predictions_path, index=False)


def _training_order(rows, seed):
    """The training rows in one seeded order: the first ``n`` are the training subset of size ``n``."""
    return np.random.default_rng(seed).permutation(rows["train"])


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
    order = _training_order(rows, seed)
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
            parts.append(label_table(stars, *model.predict(stars.spectra.pixels(keep)), band=band,
                                     n_pixels=int(keep.sum())))
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


def fit_fresh(method, seed, threads, gpus, train, validation, what):
    """A new model of ``method`` fitted on ``train`` (validated on ``validation``); None, logged,
    where the method has too few stars."""
    model = make_method(method["type"], {"random_state": seed, **method["params"]})
    set_for_job(model, threads, gpus)
    start = time.perf_counter()
    try:
        model.fit(train.spectra, train.labels, train.label_err, train.label_names,
                  validation=(validation.spectra, validation.labels, validation.label_err))
    except TooFewStarsError as error:
        log.info("%s: left out (%s)", what, error)
        return None
    log.info("%s: trained in %.1f s", what, time.perf_counter() - start)
    return model


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


def flux_influence(*, model_path, sample_path, split_path, method, colours, seed, threads, max_stars, table_path):
    """Where in the spectrum a trained method reads each label, on up to ``max_stars`` test stars
    (the draw of the S/N ladder): each pixel's median share of the method's flux influence, giants
    and dwarfs apart (:func:`labeltransfer.diagnostics.influence.pixel_shares`), with the influence's kind."""
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, 0)
    if model.influence_kind is None:
        raise ValueError(f"{model_path}: a {method['type']} model has no flux influence (its labels are no "
                         "smooth function of the flux)")
    stars = sample.subset(draw_test_rows(rows, max_stars, seed))
    start = time.perf_counter()
    influence = model.flux_influence(stars.spectra)
    log.info("flux influence (%s) of %d stars in %.1f s", model.influence_kind, len(stars.apogee_id),
             time.perf_counter() - start)
    table = pixel_shares(influence, stars.spectra.wavelength, giant_dwarf_masks(stars.labels, stars.label_names),
                         stars.label_names)
    table.insert(0, "kind", model.influence_kind)
    table.to_csv(table_path, index=False)


def cannon_anomalies(*, model_path, sample_path, split_path, method, colours, seed, n_top, ranking_path,
                     spectra_path, stacked_path):
    """The test stars ranked by a trained Cannon's misfit, the worst ones' spectra, and the stacked residual.

    ``ranking_path`` (CSV, worst first): each test star's reduced chi-square, S/N, G, A_K, fitted
    labels with their formal sigma, reference labels, and what its residual shows: ``halpha`` (mean normalised residual
    within 6 nm of H-alpha, positive for emission), ``blue_minus_red`` (mean normalised residual
    below 500 nm minus that above 800 nm: a slope the labels and colours do not explain, as
    from extinction or a companion), ``bad_pixel_fraction`` (pixels beyond 5 sigma).
    ``spectra_path`` (npz): the ``n_top`` worst stars' flux and model flux. ``stacked_path``
    (CSV): the median normalised residual and its 16th and 84th percentiles at each wavelength,
    for giants and dwarfs (reference logg).
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    test = sample.subset(rows["test"])
    labels, sigma, misfit = model.fitted_labels_and_misfit(test.spectra)
    usable = np.all(np.isfinite(labels), axis=1)
    model_values, residual = model.normalised_residuals(test.spectra.subset(usable), labels[usable])
    wavelength = test.spectra.wavelength
    with np.errstate(invalid="ignore"):
        hints = {"halpha": np.nanmean(residual[:, np.abs(wavelength - 656.3) <= 6], axis=1),
                 "blue_minus_red": (np.nanmean(residual[:, wavelength < 500], axis=1)
                                    - np.nanmean(residual[:, wavelength > 800], axis=1)),
                 "bad_pixel_fraction": np.mean(np.abs(np.nan_to_num(residual)) > 5, axis=1)}
    table = label_table(test.subset(np.flatnonzero(usable)), labels[usable], sigma[usable],
                        reduced_chi2=misfit[usable], g_mag=test.g_mag[usable], a_k=test.extinction_k[usable], **hints)
    order = np.argsort(-misfit[usable])
    table.iloc[order].to_csv(ranking_path, index=False)
    top = order[:n_top]
    np.savez(spectra_path, wavelength=wavelength, apogee_id=test.apogee_id[usable][top],
             flux=test.spectra.flux[usable][top], flux_error=test.spectra.flux_error[usable][top],
             model=model.model_flux(model_values[top]), labels=labels[usable][top],
             label_names=np.array(test.label_names), reduced_chi2=misfit[usable][top])
    stacked = pd.DataFrame({"wavelength": wavelength})
    for subset, mask in giant_dwarf_masks(test.labels[usable], test.label_names).items():
        if mask.any():
            for name, q in (("p16", 16), ("median", 50), ("p84", 84)):
                stacked[f"{subset}_{name}"] = np.nanpercentile(residual[mask], q, axis=0)
    stacked.to_csv(stacked_path, index=False)
    log.info("The Cannon's misfit: median reduced chi-square %.2f; the %d worst: %s", np.nanmedian(misfit), n_top,
             ", ".join(f"{i} ({c:.1f})" for i, c in zip(test.apogee_id[usable][top], misfit[usable][top])))
