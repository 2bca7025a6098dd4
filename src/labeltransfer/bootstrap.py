"""The summary of a comparison: every metric per method, label and subset, with bootstrap intervals.

The test stars of a subset are resampled with replacement ``n_resamples`` times (seeded);
each method's robust scatter and bias are recomputed on every resample, and the 16-84th and
2.5-97.5th percentiles give their 68% and 95% intervals: how much the number would move with
another draw of test stars of the same kind. The same resamples serve every method, so the
difference of two methods' scatters on each resample gives a paired interval; where the 95%
interval of a difference contains zero the two methods are tied.
"""

from itertools import combinations

import numpy as np
import pandas as pd

from .metrics import MAD_TO_SIGMA, MIN_SUBSET_STARS, label_metrics, subset_masks

__all__ = ["N_RESAMPLES", "COMPARISON_SUBSETS", "bootstrap_scatter_bias", "summarise"]

#: Bootstrap resamples of the test stars.
N_RESAMPLES = 1000
#: Percentiles of the 68% and 95% intervals.
_LEVELS = {"68": (15.865, 84.135), "95": (2.5, 97.5)}
#: Subsets in which every pair of methods is compared.
COMPARISON_SUBSETS = ("all", "giants", "dwarfs")


def bootstrap_scatter_bias(residuals, n_resamples, rng):
    """Robust scatter and bias (median) of each column of ``residuals`` on resamples of its rows.

    Parameters
    ----------
    residuals : ndarray, shape (n_stars, n_methods)
        Predicted minus reference; NaN where a method gave no prediction.
    n_resamples : int
    rng : numpy.random.Generator

    Returns
    -------
    scatter, bias : ndarray, shape (n_resamples, n_methods)
        Every column on the same resamples of the stars.
    """
    n_stars, n_methods = residuals.shape
    rows = rng.integers(0, n_stars, (n_resamples, n_stars), dtype=np.int64)
    scatter, bias = np.empty((n_resamples, n_methods)), np.empty((n_resamples, n_methods))
    for j in range(n_methods):
        resampled = residuals[:, j].astype(np.float32)[rows]
        bias[:, j] = _row_medians(resampled)
        scatter[:, j] = MAD_TO_SIGMA * _row_medians(np.abs(resampled - bias[:, j, None].astype(np.float32)))
    return scatter, bias


def _row_medians(values):
    """Median of each row (by partition: several times faster than np.median; NaN skipped)."""
    if np.isnan(values).any():
        return np.nanmedian(values, axis=1)
    half = values.shape[1] // 2
    if values.shape[1] % 2:
        return np.partition(values, half, axis=1)[:, half]
    parted = np.partition(values, [half - 1, half], axis=1)
    return 0.5 * (parted[:, half - 1].astype(float) + parted[:, half])


def _intervals(name, resampled):
    """``{name_lo68: ..., name_hi68: ..., name_lo95: ..., name_hi95: ...}`` of resampled values."""
    result = {}
    for level, (lo, hi) in _LEVELS.items():
        bounds = np.percentile(resampled, [lo, hi]) if np.isfinite(resampled).all() else (np.nan, np.nan)
        result[f"{name}_lo{level}"], result[f"{name}_hi{level}"] = float(bounds[0]), float(bounds[1])
    return result


def summarise(predictions, label_names, snr_bins, has_parallax=None, n_resamples=N_RESAMPLES, seed=0):
    """The summary table of the methods' test-set predictions, and their paired comparison.

    Parameters
    ----------
    predictions : dict
        Method name -> DataFrame of the same test stars in the same order (``apogee_id``,
        ``snr`` and, per label, ``<label>``, ``<label>_err``, ``<label>_ref`` and, where known,
        ``<label>_ref_err``).
    label_names : sequence of str
    snr_bins : sequence of float
    has_parallax : ndarray of bool, optional
        Per test star (the ``with_parallax`` and ``without_parallax`` subsets).
    n_resamples : int
    seed : int

    Returns
    -------
    summary : pandas.DataFrame
        One row per method, label and subset: ``n``, ``n_bad_sigma``, the metrics of
        :func:`labeltransfer.metrics.label_metrics`, and the 68% and 95% intervals of the
        scatter and bias (``scatter_lo68`` ...).
    comparison : pandas.DataFrame
        One row per pair of methods, label and subset of ``COMPARISON_SUBSETS``: both scatters,
        their difference (first minus second) with its intervals, and ``verdict`` (which is
        better, or ``tie`` where the 95% interval contains zero).
    """
    methods = list(predictions)
    first = predictions[methods[0]]
    for method in methods[1:]:
        if not np.array_equal(predictions[method]["apogee_id"].to_numpy(), first["apogee_id"].to_numpy()):
            raise ValueError(f"the predictions of {method} and {methods[0]} are not of the same test stars")
    masks = subset_masks(first["logg_ref"].to_numpy(), first["snr"].to_numpy(), snr_bins, has_parallax)
    summary, comparison = [], []
    for label_index, label in enumerate(label_names):
        reference = first[f"{label}_ref"].to_numpy(dtype=float)
        reference_err = first.get(f"{label}_ref_err", pd.Series(np.nan, index=first.index)).to_numpy(dtype=float)
        predicted = np.column_stack([predictions[m][label].to_numpy(dtype=float) for m in methods])
        sigma = np.column_stack([predictions[m][f"{label}_err"].to_numpy(dtype=float) for m in methods])
        for subset_index, (subset, mask) in enumerate(masks.items()):
            rows = mask & np.isfinite(reference)
            scatter_b = bias_b = np.full((1, len(methods)), np.nan)
            if rows.sum() >= MIN_SUBSET_STARS:
                rng = np.random.default_rng([seed, label_index, subset_index])
                scatter_b, bias_b = bootstrap_scatter_bias(predicted[rows] - reference[rows, None], n_resamples, rng)
            point = [label_metrics(predicted[rows, j], reference[rows], sigma[rows, j], reference_err[rows])
                     for j in range(len(methods))]
            for j, method in enumerate(methods):
                summary.append({"method": method, "label": label, "subset": subset, **point[j],
                                **_intervals("scatter", scatter_b[:, j]), **_intervals("bias", bias_b[:, j])})
            if subset in COMPARISON_SUBSETS:
                for a, b in combinations(range(len(methods)), 2):
                    comparison.append(_paired(methods[a], methods[b], label, subset, point[a], point[b],
                                              scatter_b[:, a] - scatter_b[:, b]))
    return pd.DataFrame(summary), pd.DataFrame(comparison)


def _paired(method_a, method_b, label, subset, metrics_a, metrics_b, resampled_difference):
    """One row of the comparison table."""
    difference = metrics_a["scatter"] - metrics_b["scatter"]
    intervals = _intervals("difference", resampled_difference)
    lo, hi = intervals["difference_lo95"], intervals["difference_hi95"]
    verdict = ("too few stars" if not np.isfinite(difference) else "tie" if lo <= 0 <= hi
               else f"{method_a} better" if difference < 0 else f"{method_b} better")
    return {"label": label, "subset": subset, "method_a": method_a, "method_b": method_b, "n": metrics_a["n"],
            "scatter_a": metrics_a["scatter"], "scatter_b": metrics_b["scatter"], "difference": difference,
            **intervals, "verdict": verdict}
