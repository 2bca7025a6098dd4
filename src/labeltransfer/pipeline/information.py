"""The information bound of the S/N ladder's stars under the run's spectrum model (config: ``information:
method``), the efficiency of each method that reads the flux alone against it, and the figure.

The bound is named for what it assumes (:mod:`labeltransfer.diagnostics.bound`): the model (the
spectrum model's derivatives at each star's reference parameters, its labels and, where the model
fits it, its A_K), the noise (XP: the coefficient covariance, a real template rescaled to each
star's pixel errors or, for a Gaia XP archive task, the star's own; plus the ladder's added noise;
and, in a second column, the model's intrinsic scatter) and the prior (the population's density of
reference parameters, a Gaussian mixture fitted to the training stars).
"""

import logging
import time

import numpy as np
import pandas as pd

from ..data.split import draw_test_rows
from ..diagnostics.bound import (IndependentPixelNoise, XPCoefficientNoise, comparable_methods, frequentist_bounds,
                                 population_bounds, population_prior)
from ..diagnostics.influence import giant_dwarf_masks, pixel_shares
from ..xp.basis import design_matrix
from ..xp.covariance_template import template_factor
from ..xp.noise import XPNoise
from .files import read_predictions
from .jobs import CURVE_RESAMPLES, XP_SOURCES, load_features, load_trained

__all__ = ["PRIOR_DRAWS", "reference_parameters", "ladder_information",
           "information_bound", "evaluate_information", "plot_information"]

log = logging.getLogger(__name__)

#: Draws of the population's density from which its prior information J_P is estimated.
PRIOR_DRAWS = 100_000
#: The extinction's name among a spectrum model's parameters, and its column of the sample.
_EXTINCTION = "a_k"


def reference_parameters(model, sample):
    """Each star's reference parameters in the order of ``model.parameter_names_``: its labels and,
    where the model fits the extinction, its A_K; shape (n_stars, k), NaN where unknown. A model that also
    takes extra labels (a Payne's ``extra_labels``, held at each star's observed values) is refused: the bound
    is that of the flux alone."""
    if extra := list(getattr(model, "extra_labels", ())):
        raise ValueError(f"the information bound needs a spectrum model of the flux alone, and this one also takes "
                         f"the extra labels {extra}: set information: method to a Payne without extra_labels")
    columns = {**dict(zip(sample.label_names, sample.labels.T)), _EXTINCTION: sample.extinction_k}
    if missing := [name for name in model.parameter_names_ if name not in columns]:
        raise KeyError(f"the model's parameters {missing} are neither labels of the sample "
                       f"({', '.join(sample.label_names)}) nor {_EXTINCTION}")
    return np.column_stack([columns[name] for name in model.parameter_names_]).astype(float)


def _noise_model(stars, jacobian, xp, own_factors):
    """The noise kind of these stars' spectra (:mod:`labeltransfer.diagnostics.bound`) and its name."""
    if own_factors is not None:
        return XPCoefficientNoise(jacobian, stars.spectra.flux_error, design_matrix(stars.spectra.wavelength),
                                  own_factors), "xp_own"
    if xp:
        return XPCoefficientNoise(jacobian, stars.spectra.flux_error, design_matrix(stars.spectra.wavelength),
                                  template_factor()), "xp_template"
    return IndependentPixelNoise(jacobian, stars.spectra.flux_error), "pixels"


def ladder_information(model, stars, levels, xp, own_factors=None):
    """Each ladder star's Fisher information at each level, under the spectrum model and each noise.

    A star is at a level where its S/N is at least the level (as
    :func:`labeltransfer.diagnostics.degrade.degrade_to_snr`); there the ladder has scaled its
    errors by ``f = snr / level`` and added noise of ``f^2 - 1`` times the star's own noise: the XP
    template rescaled to its pixel errors (the library), its own XP covariance (``own_factors``, a
    Gaia XP archive task) or, for spectra that are not XP, its pixel errors, independent. The
    star's noise at the level is then ``f^2`` times its own.

    Parameters
    ----------
    model : fitted spectrum model
        ``parameter_names_``, ``model_flux``, ``intrinsic_scatter_``.
    stars : LabelledSample
        The stars, each with every reference parameter (:func:`reference_parameters`).
    levels : sequence of float
    xp : bool
        Whether the spectra are Gaia XP spectra sampled from coefficients.
    own_factors : ndarray, shape (n_stars, 110, 110), optional
        Each star's coefficient covariance factor (:class:`labeltransfer.xp.noise.XPNoise`).

    Returns
    -------
    dict
        ``row`` and ``level`` (one entry per star and level), ``fisher`` (entries, 2, k, k: the
        spectrum's noise plus the ladder's, then with the model's intrinsic scatter added),
        ``noise`` (the two names), ``jacobian`` (n_stars, n_pixels, k).
    """
    _, jacobian = model.model_flux(reference_parameters(model, stars))
    noise, name = _noise_model(stars, jacobian, xp, own_factors)
    if isinstance(noise, XPCoefficientNoise):
        shown = range(min(100, len(stars.apogee_id)))
        ratio = np.concatenate([noise.error_ratio(i, stars.spectra.flux_error[i]) for i in shown])
        log.info("%s: the projected XP noise's pixel errors over the stars' own: median %.3f, 5-95%% %.3f-%.3f "
                 "(%d stars)", name, np.median(ratio), *np.percentile(ratio, [5, 95]), len(shown))
    error = stars.spectra.flux_error.astype(float)
    scatter_variance = np.broadcast_to(model.intrinsic_scatter_ ** 2, error.shape)
    snr = stars.spectra.snr()
    rows, entries, fisher = [], [], []
    for level in levels:
        at = np.flatnonzero(np.isfinite(snr) & (snr >= level))
        if not at.size:
            continue
        factor, pixel_variance = (snr[at] / level) ** 2, np.zeros((len(at), error.shape[1]))
        fisher.append(np.stack([noise.fisher(at, factor, pixel_variance),
                                noise.fisher(at, factor, pixel_variance + scatter_variance[at])], axis=1))
        rows.append(at)
        entries.append(np.full(len(at), float(level)))
    return {"row": np.concatenate(rows), "level": np.concatenate(entries), "fisher": np.concatenate(fisher),
            "noise": (f"{name}+ladder", f"{name}+ladder+intrinsic_scatter"), "jacobian": jacobian}


def information_bound(*, model_path, sample_path, split_path, method, model_name, colours, seed, levels, max_stars,
                      fisher_path, bound_path, prior_path, pixels_path, noise_path=None):
    """The information bound of the S/N ladder's stars under a trained spectrum model, at each level.

    The stars are those of :func:`labeltransfer.pipeline.snr_ladder.predict_snr_ladder` (the same
    draw) with every reference parameter; their Fisher information is
    :func:`ladder_information`'s. The population's prior information ``J_P`` is that of the Gaussian
    mixture fitted to the training stars' reference parameters, its number of components chosen on
    the validation stars' (:func:`labeltransfer.diagnostics.bound.population_prior`).

    Writes ``fisher_path`` (``.npz``: each star's Fisher matrices by level and noise, its memberships
    of the mixture's components, the components' precisions, ``J_P`` and the names, for
    :func:`evaluate_information`), ``bound_path`` (per level, noise and parameter: the population
    bound, the larger of the two van Trees bounds of
    :func:`labeltransfer.diagnostics.bound.population_bounds`, both of them, and the median of the
    stars' own Cramer-Rao bounds without prior), ``prior_path`` (the mixture candidates' mean
    log-densities) and ``pixels_path`` (each pixel's share of each label's information at the stars'
    own S/N, pixels taken as independent with the flux errors and the intrinsic scatter: where the
    model puts it, :func:`labeltransfer.diagnostics.influence.pixel_shares`). With ``noise_path`` (a
    Gaia XP archive task's :class:`~labeltransfer.xp.noise.XPNoise` file) each star's own coefficient
    covariance replaces the template.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    names = tuple(model.parameter_names_)
    parameters = reference_parameters(model, sample)
    complete = np.all(np.isfinite(parameters), axis=1)
    mixture, candidates = population_prior(parameters[rows["train"]][complete[rows["train"]]],
                                           parameters[rows["validation"]][complete[rows["validation"]]], seed=seed)
    candidates.to_csv(prior_path, index=False)
    log.info("population prior: a Gaussian mixture of %d components of %s (validation mean log-density %s)",
             mixture.n_components, list(names), candidates["validation_log_density"].round(2).tolist())

    drawn = draw_test_rows(rows, max_stars, seed)
    stars = sample.subset(drawn[complete[drawn]])
    log.info("%d of the ladder's %d stars have every reference parameter (%s)", len(stars.apogee_id), len(drawn),
             ", ".join(names))
    own_factors = None if noise_path is None else XPNoise.load(noise_path, stars.source_id).factors
    start = time.perf_counter()
    information = ladder_information(model, stars, levels, sample.provenance.get("source") in XP_SOURCES,
                                     own_factors)
    log.info("Fisher information of %d stars x levels under %s in %.1f s", len(information["row"]),
             " and ".join(information["noise"]), time.perf_counter() - start)
    saved = {"apogee_id": stars.apogee_id[information["row"]], "level": information["level"],
             "fisher": information["fisher"], "noise": np.array(information["noise"]),
             "responsibilities": mixture.responsibilities(reference_parameters(model, stars))[information["row"]],
             "precisions": mixture.precisions(), "prior_information": mixture.information(PRIOR_DRAWS,
                                                                                          np.random.default_rng(seed)),
             "parameter_names": np.array(names), "model": np.array(model_name),
             "prior": np.array(f"gaussian_mixture_{mixture.n_components}")}
    np.savez(fisher_path, **saved)
    _bound_table(saved).to_csv(bound_path, index=False)
    _information_per_pixel(model, stars, information["jacobian"]).to_csv(pixels_path, index=False)


def _level_bounds(saved, at, weights):
    """Per noise of ``saved`` (:func:`information_bound`'s file), over its entries ``at`` (one level's
    stars) weighted by ``weights`` (n_weightings, n): the two van Trees bounds and the population
    bound (their larger), as standard deviations, each (n_weightings, k)."""
    bounds = []
    for v in range(len(saved["noise"])):
        whole, by_component = population_bounds(saved["fisher"][at, v], weights, saved["prior_information"],
                                                saved["responsibilities"][at], saved["precisions"])
        bounds.append((np.sqrt(np.maximum(whole, by_component)), np.sqrt(whole), np.sqrt(by_component)))
    return bounds


def _bound_table(saved):
    """Per level, noise and parameter: the population bound, the two van Trees bounds it is the larger
    of, the median per-star Cramer-Rao bound without prior, and the number of stars."""
    names = [str(name) for name in saved["parameter_names"]]
    parts = []
    for level in np.unique(saved["level"]):
        at = saved["level"] == level
        bounds = _level_bounds(saved, at, np.full((1, at.sum()), 1.0 / at.sum()))
        for v, (population, whole, by_component) in enumerate(bounds):
            noise = str(saved["noise"][v])
            parts.append(pd.DataFrame({
                "model": str(saved["model"]), "prior": str(saved["prior"]), "noise": noise, "level": level,
                "parameter": names, "n_stars": int(at.sum()), "population_bound": population[0],
                "van_trees_whole": whole[0], "van_trees_by_component": by_component[0],
                "crb_median": np.median(frequentist_bounds(saved["fisher"][at, v]), axis=0)}))
            log.info("S/N %g, %s: population bound %s", level, noise, dict(zip(names, np.round(population[0], 4))))
    return pd.concat(parts, ignore_index=True)


def _information_per_pixel(model, stars, jacobian):
    """Each pixel's share of each label's information at the stars' own S/N, pixels independent."""
    error = stars.spectra.flux_error.astype(float)
    weight = np.where(np.isfinite(error), 1.0 / (error ** 2 + model.intrinsic_scatter_ ** 2), 0.0)
    labels = [model.parameter_names_.index(name) for name in stars.label_names]
    per_pixel = jacobian[:, :, labels] ** 2 * weight[:, :, None]
    return pixel_shares(per_pixel, stars.spectra.wavelength, giant_dwarf_masks(stars.labels, stars.label_names),
                        stars.label_names)


def evaluate_information(*, methods, feature_sets, prediction_paths, fisher_path, labels, seed, table_path):
    """The efficiency, bound over root mean squared error, of each method that reads the flux alone, at
    each S/N of the ladder, with its 95% paired bootstrap interval.

    The van Trees bound bounds the mean squared error over the population, bias included, so it is
    set against the method's root mean squared error on the same stars (the ladder's stars with every
    reference parameter, at that level); a bootstrap over those stars resamples both (the same
    resamples for every method). A method that reads more than the flux (colours, parallax: its
    ``feature_set``) is left out, with the reason logged
    (:func:`labeltransfer.diagnostics.bound.comparable_methods`).
    """
    compared, left_out = comparable_methods({m: feature_sets[m] for m in methods})
    for method, reason in left_out.items():
        log.info("%s: not compared with the bound: it %s", method, reason)
    paths = dict(zip(methods, prediction_paths))
    predictions = read_predictions(compared, [paths[m] for m in compared])
    with np.load(fisher_path) as saved:
        saved = {key: saved[key] for key in saved.files}
    names = [str(name) for name in saved["parameter_names"]]
    rng = np.random.default_rng(seed)
    rows = []
    for level in np.unique(saved["level"]):
        at = saved["level"] == level
        ids, n = saved["apogee_id"][at], int(at.sum())
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(CURVE_RESAMPLES)])
        weights = np.vstack([np.ones(n), counts]) / n  # the stars themselves, then each resample
        bounds = [population for population, _, _ in _level_bounds(saved, at, weights)]
        for method in compared:
            table = predictions[method]
            table = table[table["level"] == level].set_index("apogee_id").reindex(ids)
            for label in labels:
                squared = ((table[label] - table[f"{label}_ref"]) ** 2).to_numpy()
                finite = np.isfinite(squared)
                rmse = np.sqrt((weights @ np.where(finite, squared, 0.0)) / (weights @ finite))
                for noise, bound in zip(saved["noise"], bounds):
                    efficiency = bound[:, names.index(label)] / rmse
                    lo, hi = np.percentile(efficiency[1:], [2.5, 97.5])
                    rows.append({"model": str(saved["model"]), "prior": str(saved["prior"]), "noise": str(noise),
                                 "method": method, "level": level, "label": label, "n_stars": int(finite.sum()),
                                 "rmse": rmse[0], "population_bound": bound[0, names.index(label)],
                                 "efficiency": efficiency[0], "efficiency_lo": lo, "efficiency_hi": hi})
    pd.DataFrame(rows).to_csv(table_path, index=False)


def plot_information(*, table_path, pixels_path, methods, feature_sets, labels, figure_path):
    """The information figure (:func:`labeltransfer.diagnostics.plots.information`), naming the methods
    left out of the comparison and why."""
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    _, left_out = comparable_methods({m: feature_sets[m] for m in methods})
    plots.save(diagnostic_plots.information(pd.read_csv(table_path), pd.read_csv(pixels_path), labels, left_out),
               figure_path)
