"""How well a method's spectrum model (a type with ``spectrum_model`` in KINDS: the Payne's emulator)
describes the spectra: the validation stars' reduced chi-square at their best fits per S/N bin, with
the model's intrinsic scatter and with the flux errors alone, the stars fitted again from the
restarts, and, where the model fits the extinction, the test stars' fitted A_K against the sample's;
the table, the figure's data and the figure."""

import logging

import numpy as np
import pandas as pd

from ..evaluation.metrics import snr_bin_masks
from ..evaluation.summary import Resamples, method_metrics
from ..methods.device import set_for_job
from .jobs import CURVE_RESAMPLES, load_features, load_trained

__all__ = ["CHI2_BAND", "evaluate_spectrum_model", "flux_error_reduced_chi2", "plot_spectrum_model"]

log = logging.getLogger(__name__)

#: Where the median validation star's reduced chi-square (with the intrinsic scatter) says that the
#: model describes the spectra to their noise: below, the scatter is too large; above, a misfit.
CHI2_BAND = (0.8, 1.5)
#: The extinction's name among a spectrum model's parameters (``parameter_names_``).
_EXTINCTION = "a_k"
#: The A_K columns of the table (fitted minus reference A_K of the test stars): point and 68% interval.
_EXTINCTION_METRICS = ("bias", "bias_lo68", "bias_hi68", "scatter", "scatter_lo68", "scatter_hi68")


def flux_error_reduced_chi2(*, model, spectra, parameters, extra=None):
    """Each star's reduced chi-square about the model at ``parameters`` with its flux errors alone
    (no intrinsic scatter): ``sum((flux - model)^2 / flux_error^2) / (n_pixels - k)`` over its usable
    pixels (flux and error finite, error positive), ``k`` the model's parameters.

    Parameters
    ----------
    model : fitted spectrum model (``model_flux``, ``parameter_names_``)
    spectra : labeltransfer.data.spectra.Spectra
    parameters : ndarray, shape (n_stars, k)
        In the order of ``model.parameter_names_`` (each star's best fit).
    extra : ndarray, shape (n_stars, n_extra), optional
        The extra labels the model holds (a Payne with ``extra_labels``: its fits' ``extra``).

    Returns
    -------
    ndarray, shape (n_stars,)
    """
    model_flux, _ = model.model_flux(parameters, extra)
    error = spectra.flux_error.astype(float)
    usable = np.isfinite(spectra.flux) & np.isfinite(error) & (error > 0)
    chi2 = np.where(usable, (spectra.flux - model_flux) / np.where(usable, error, 1.0), 0.0) ** 2
    return chi2.sum(axis=1) / np.maximum(usable.sum(axis=1) - len(model.parameter_names_), 1)


def evaluate_spectrum_model(*, model_path, sample_path, split_path, method, colours, seed, snr_bins, threads, gpus,
                            table_path, fits_path):
    """The table of how well a trained spectrum model describes the spectra, and the figure's data.

    ``table_path`` (CSV): one row per subset of stars, ``all`` then each S/N bin of ``snr_bins``
    (``subset``, ``snr_min``, ``snr_max``). Of the validation stars fitted by the model:
    ``n_validation``; ``reduced_chi2_median``, ``reduced_chi2_p16``, ``reduced_chi2_p84`` (with the
    model's intrinsic scatter, as the fit weighs the pixels); ``reduced_chi2_flux_errors_median`` (the
    same best fits, weighed by the flux errors alone: what the scatter takes up); ``restarted_fraction``
    (stars fitted again from the restarts). Where the model fits the extinction (``a_k`` among its
    parameters), of the test stars with a reference A_K (``sample.extinction_k``), fitted minus
    reference: ``n_test_a_k``, ``a_k_bias`` (median) and ``a_k_scatter`` (robust scatter), each with
    its bootstrap 68% interval (``_lo68``, ``_hi68``; :data:`labeltransfer.pipeline.jobs.CURVE_RESAMPLES`
    resamples, NaN under 30 stars), and ``a_k_formal_sigma_median`` (the fit's own A_K error).

    ``fits_path`` (npz): ``wavelength``, ``intrinsic_scatter`` and the validation stars' flux error
    per pixel (``flux_error_p16``, ``flux_error_median``, ``flux_error_p84``); ``snr_bins``; per
    validation star ``validation_snr``, ``reduced_chi2``, ``reduced_chi2_flux_errors``; where A_K is
    fitted, per test star ``test_snr``, ``a_k_reference``, ``a_k_fitted``, ``a_k_sigma``.
    """
    sample, rows, provenance = load_features(sample_path, split_path, method, colours)
    model = load_trained(method, model_path, provenance, seed)
    set_for_job(model, threads, gpus)
    validation = sample.subset(rows["validation"])
    fits = model.fit_stars(validation.spectra)
    by_flux_errors = flux_error_reduced_chi2(model=model, spectra=validation.spectra, parameters=fits["parameters"],
                                             extra=fits["extra"])
    table = pd.DataFrame([
        {"subset": name, "snr_min": low, "snr_max": high, **_chi2_metrics(fits, by_flux_errors, mask)}
        for (name, mask), (low, high) in zip(_subsets(validation.snr, snr_bins).items(), _bounds(snr_bins))])
    error = np.where(np.isfinite(validation.spectra.flux_error), validation.spectra.flux_error, np.nan)
    quantiles = np.nanpercentile(error, [16, 50, 84], axis=0)
    arrays = {"wavelength": validation.spectra.wavelength, "intrinsic_scatter": model.intrinsic_scatter_,
              "flux_error_p16": quantiles[0], "flux_error_median": quantiles[1], "flux_error_p84": quantiles[2],
              "snr_bins": np.asarray(snr_bins, dtype=float), "validation_snr": validation.snr,
              "reduced_chi2": fits["reduced_chi2"], "reduced_chi2_flux_errors": by_flux_errors}
    if _EXTINCTION in model.parameter_names_:
        extinction, metrics = _extinction(model, sample.subset(rows["test"]), snr_bins, seed)
        arrays.update(extinction)
        table = pd.concat([table, metrics], axis=1)
    table.to_csv(table_path, index=False)
    np.savez(fits_path, **arrays)
    overall = table.iloc[0]
    log.info("%d validation stars: median reduced chi-square %.2f with the intrinsic scatter (%s the band %g-%g), "
             "%.2f with the flux errors alone; %.1f%% fitted again from the restarts", overall["n_validation"],
             overall["reduced_chi2_median"], "within" if CHI2_BAND[0] <= overall["reduced_chi2_median"] <= CHI2_BAND[1]
             else "outside", *CHI2_BAND, overall["reduced_chi2_flux_errors_median"],
             100 * overall["restarted_fraction"])


def _subsets(snr, snr_bins):
    """Masks of all stars and of each S/N bin, in that order."""
    return {"all": np.ones(len(snr), dtype=bool), **snr_bin_masks(snr, snr_bins)}


def _bounds(snr_bins):
    """The S/N range of each subset of :func:`_subsets` (all stars: 0 to infinity)."""
    return [(0.0, np.inf), *zip(snr_bins[:-1], snr_bins[1:])]


def _chi2_metrics(fits, by_flux_errors, mask):
    """The validation stars' reduced chi-square columns of one subset (NaN without stars)."""
    if not mask.any():
        return {"n_validation": 0, **dict.fromkeys(("reduced_chi2_median", "reduced_chi2_p16", "reduced_chi2_p84",
                                                    "reduced_chi2_flux_errors_median", "restarted_fraction"), np.nan)}
    p16, median, p84 = np.percentile(fits["reduced_chi2"][mask], [16, 50, 84])
    return {"n_validation": int(mask.sum()), "reduced_chi2_median": median, "reduced_chi2_p16": p16,
            "reduced_chi2_p84": p84, "reduced_chi2_flux_errors_median": float(np.median(by_flux_errors[mask])),
            "restarted_fraction": float(np.mean(fits["restarted"][mask]))}


def _extinction(model, test, snr_bins, seed):
    """The test stars with a reference A_K, fitted: their arrays for the figure, and the table's A_K
    columns (one row per subset of :func:`_subsets`)."""
    known = test.subset(np.flatnonzero(np.isfinite(test.extinction_k)))
    column = model.parameter_names_.index(_EXTINCTION)
    fits = model.fit_stars(known.spectra)
    fitted, sigma = fits["parameters"][:, column], np.sqrt(fits["covariance"][:, column, column])
    residual = (fitted - known.extinction_k)[:, None]
    rng = np.random.default_rng(seed)
    rows = []
    for mask in _subsets(known.snr, snr_bins).values():
        metrics = method_metrics(Resamples(residual, CURVE_RESAMPLES, rng, subset=mask), 0, sigma)
        rows.append({"n_test_a_k": metrics["n"], **{f"a_k_{name}": metrics[name] for name in _EXTINCTION_METRICS},
                     "a_k_formal_sigma_median": metrics["sigma_median"]})
    log.info("A_K of %d test stars: fitted minus reference, bias %.3f mag, robust scatter %.3f mag",
             len(fitted), rows[0]["a_k_bias"], rows[0]["a_k_scatter"])
    arrays = {"test_snr": known.snr, "a_k_reference": known.extinction_k, "a_k_fitted": fitted, "a_k_sigma": sigma}
    return arrays, pd.DataFrame(rows)


def plot_spectrum_model(*, fits_path, table_path, method_name, figure_path):
    """The spectrum-model figure (:func:`labeltransfer.diagnostics.fit_plots.spectrum_model_fit`)."""
    from ..diagnostics import fit_plots
    from ..evaluation import plots

    with np.load(fits_path, allow_pickle=False) as fits:
        figure = fit_plots.spectrum_model_fit(dict(fits), pd.read_csv(table_path), CHI2_BAND, method_name)
    plots.save(figure, figure_path)
