"""The anomalies: the test stars The Cannon's model fits worst, their spectra, the stacked residual,
and the figure."""

import logging

import numpy as np
import pandas as pd

from ..data.predictions import sample_predictions
from ..diagnostics.influence import giant_dwarf_masks
from .jobs import load_features, load_trained

__all__ = ["cannon_anomalies", "plot_anomalies"]

log = logging.getLogger(__name__)


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
    table = sample_predictions(test.subset(np.flatnonzero(usable)), labels[usable], sigma[usable],
                               leading={"reduced_chi2": misfit[usable], "g_mag": test.g_mag[usable],
                                        "a_k": test.extinction_k[usable], **hints})
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


def plot_anomalies(*, spectra_path, stacked_path, figure_path):
    """The anomalies figure (:func:`labeltransfer.diagnostics.plots.anomalies`)."""
    from ..diagnostics import plots as diagnostic_plots
    from ..evaluation import plots

    with np.load(spectra_path, allow_pickle=False) as spectra:
        figure = diagnostic_plots.anomalies(dict(spectra), pd.read_csv(stacked_path))
    plots.save(figure, figure_path)
