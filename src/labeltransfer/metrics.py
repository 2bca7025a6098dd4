"""The metrics every method is judged by, per label and per subset of the test set.

For residuals ``r = predicted - reference`` of the stars with a reference label:

- ``bias``: median of ``r``;
- ``scatter``: robust scatter, 1.4826 x median absolute deviation of ``r`` about its median;
- ``rmse``: root mean square of ``r``;
- ``outlier_frac``: fraction of stars with ``|r - bias| > 3 scatter``;
- ``z_width``: robust scatter of ``r / sigma_predicted`` (1 for honest uncertainties; > 1 when
  they are too small). Only the predicted sigma enters: the reference errors of APOGEE DR17
  are small next to the label-transfer errors;
- ``z_rms``: root mean square of ``r / sigma_predicted`` (1 for Gaussian-honest uncertainties;
  with heavy-tailed residuals it exceeds ``z_width``, and outliers dominate it).
"""

import numpy as np
import pandas as pd

__all__ = ["robust_scatter", "fraction_beyond", "widths_within", "label_metrics", "snr_bin_masks", "subset_masks",
           "summarise", "GIANT_LOGG"]

MAD_TO_SIGMA = 1.4826
#: Stars with reference logg below this are counted as giants, the rest as dwarfs.
GIANT_LOGG = 3.5
OUTLIER_SIGMAS = 3.0


def robust_scatter(values):
    """1.4826 x median absolute deviation about the median (NaN ignored; NaN if empty)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan
    return MAD_TO_SIGMA * np.median(np.abs(values - np.median(values)))


def fraction_beyond(z, k=3.0):
    """Fraction of the finite values of ``z`` (residual / sigma) with ``|z| > k``, per column.

    Parameters
    ----------
    z : ndarray, shape (n_stars, n_labels)
    k : float

    Returns
    -------
    list of float, one per column (NaN for a column without finite values).
    """
    return [float(np.mean(np.abs(c[np.isfinite(c)]) > k)) if np.isfinite(c).any() else np.nan
            for c in np.asarray(z, dtype=float).T]


def widths_within(z, masks):
    """Robust width of each column of ``z`` (residual / sigma) within each subset of stars.

    Parameters
    ----------
    z : ndarray, shape (n_stars, n_labels)
    masks : dict
        Subset name -> boolean mask over the stars (for example :func:`snr_bin_masks`).

    Returns
    -------
    dict subset name -> list of float, one per column (NaN where the subset has no finite value).
    """
    z = np.asarray(z, dtype=float)
    return {name: [float(robust_scatter(column)) for column in z[mask].T] for name, mask in masks.items()}


def label_metrics(predicted, reference, sigma):
    """Metrics of one label (see the module docstring); stars with NaNs are left out.

    Parameters
    ----------
    predicted, reference, sigma : ndarray, shape (n_stars,)

    Returns
    -------
    dict with ``n``, ``bias``, ``scatter``, ``rmse``, ``outlier_frac``, ``z_width``, ``z_rms``.
    """
    predicted, reference, sigma = (np.asarray(a, dtype=float) for a in (predicted, reference, sigma))
    good = np.isfinite(predicted) & np.isfinite(reference)
    resid = predicted[good] - reference[good]
    if resid.size == 0:
        return {"n": 0, "bias": np.nan, "scatter": np.nan, "rmse": np.nan,
                "outlier_frac": np.nan, "z_width": np.nan, "z_rms": np.nan}
    bias = float(np.median(resid))
    scatter = robust_scatter(resid)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = resid / sigma[good]
    usable = np.isfinite(z) & (sigma[good] > 0)
    return {
        "n": int(resid.size),
        "bias": bias,
        "scatter": float(scatter),
        "rmse": float(np.sqrt(np.mean(resid ** 2))),
        "outlier_frac": float(np.mean(np.abs(resid - bias) > OUTLIER_SIGMAS * scatter)),
        "z_width": float(robust_scatter(z[usable])),
        "z_rms": float(np.sqrt(np.mean(z[usable] ** 2))) if usable.any() else np.nan,
    }


def subset_masks(logg_reference, snr, snr_bins):
    """Boolean masks of the subsets: all, giants, dwarfs and one per S/N bin.

    Parameters
    ----------
    logg_reference : ndarray, shape (n_stars,)
        Reference logg (giants: logg < 3.5).
    snr : ndarray, shape (n_stars,)
        S/N of the spectrum being labelled.
    snr_bins : sequence of float
        Bin edges, increasing; the last may be ``inf``.

    Returns
    -------
    dict name -> mask; S/N subsets are named ``snr_<lo>-<hi>``.
    """
    return {"all": np.ones(len(snr), dtype=bool),
            "giants": logg_reference < GIANT_LOGG,
            "dwarfs": logg_reference >= GIANT_LOGG,
            **snr_bin_masks(snr, snr_bins)}


def snr_bin_masks(snr, snr_bins):
    """Boolean masks of the S/N bins, named ``snr_<lo>-<hi>`` (edges increasing, the last may be inf)."""
    return {f"snr_{lo:g}-{hi:g}": (snr >= lo) & (snr < hi) for lo, hi in zip(snr_bins[:-1], snr_bins[1:])}


def summarise(predictions, label_names, snr_bins):
    """The summary table of one or more methods' test-set predictions.

    Parameters
    ----------
    predictions : dict
        Method name -> DataFrame with ``snr`` and, per label, ``<label>`` (predicted),
        ``<label>_err`` (predicted sigma) and ``<label>_ref`` (reference).
    label_names : sequence of str
    snr_bins : sequence of float

    Returns
    -------
    pandas.DataFrame with columns ``method, label, subset, n, bias, scatter, rmse,
    outlier_frac, z_width, z_rms``.
    """
    rows = []
    for method, table in predictions.items():
        masks = subset_masks(table["logg_ref"].to_numpy(), table["snr"].to_numpy(), snr_bins)
        for label in label_names:
            for subset, mask in masks.items():
                part = table[mask]
                rows.append({"method": method, "label": label, "subset": subset,
                             **label_metrics(part[label], part[f"{label}_ref"], part[f"{label}_err"])})
    return pd.DataFrame(rows)
