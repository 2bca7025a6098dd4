"""The summary of a comparison: every metric per method, label and subset, with bootstrap intervals.

The test stars of a subset are resampled with replacement ``n_resamples`` times (seeded);
each method's robust scatter and bias are recomputed on every resample, and the 16-84th and
2.5-97.5th percentiles give their 68% and 95% intervals: how much the number would move with
another draw of test stars of the same kind. The same resamples serve every method, so the
difference of two methods' scatters on each resample gives a paired interval; where the 95%
interval of a difference contains zero the two methods are tied. A pair is compared on the
stars both methods labelled (a method that gives no prediction for its hardest stars wins
nothing by it). The rows of the test split are resampled as independent stars: the split puts
the rows of one star together, and a test split holding two rows of one star would give
slightly narrow intervals.
"""

from itertools import combinations

import numpy as np
import pandas as pd

from .metrics import MAD_TO_SIGMA, MIN_SUBSET_STARS, label_metrics, robust_scatter, subset_masks

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


def _intervals(name, resampled, point):
    """``{name_lo68: ..., name_hi68: ..., name_lo95: ..., name_hi95: ...}`` of resampled values (NaN where
    the point estimate or a resample is)."""
    result = {}
    usable = np.isfinite(point) and np.isfinite(resampled).all()
    for level, (lo, hi) in _LEVELS.items():
        bounds = np.percentile(resampled, [lo, hi]) if usable else (np.nan, np.nan)
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
        :func:`labeltransfer.evaluation.metrics.label_metrics`, and the 68% and 95% intervals of the
        scatter and bias (``scatter_lo68`` ...).
    comparison : pandas.DataFrame
        One row per pair of methods, label and subset of ``COMPARISON_SUBSETS``, on the stars
        both labelled (``n``): both scatters, their difference (first minus second) with its
        intervals, and ``verdict`` (which is better, ``tie`` where the 95% interval contains
        zero, ``too few stars`` under ``MIN_SUBSET_STARS``).
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
        residual = np.column_stack([predictions[m][label].to_numpy(dtype=float) for m in methods]) - reference[:, None]
        sigma = np.column_stack([predictions[m][f"{label}_err"].to_numpy(dtype=float) for m in methods])
        for subset_index, (subset, mask) in enumerate(masks.items()):
            resamples = _Resamples(residual, mask & np.isfinite(reference), n_resamples, [seed, label_index, subset_index])
            for j, method in enumerate(methods):
                rows = resamples.rows([j])
                point = label_metrics(residual[rows, j], np.zeros(rows.sum()), sigma[rows, j], reference_err[rows])
                scatter_b, bias_b = resamples.of([j])
                summary.append({"method": method, "label": label, "subset": subset, **point,
                                **_intervals("scatter", scatter_b[:, 0], point["scatter"]),
                                **_intervals("bias", bias_b[:, 0], point["bias"])})
            if subset in COMPARISON_SUBSETS:
                for a, b in combinations(range(len(methods)), 2):
                    pair = residual[resamples.rows([a, b])][:, [a, b]]
                    comparison.append(_paired(methods[a], methods[b], label, subset, pair, resamples.of([a, b])[0]))
    return pd.DataFrame(summary), pd.DataFrame(comparison)


class _Resamples:
    """Bootstrap scatters and biases of the methods' residuals on one subset, each set of methods
    taken on the stars that all of them labelled; drawn once for the stars every method labelled
    (the usual case) and again only for a set of methods whose stars differ."""

    def __init__(self, residual, rows, n_resamples, seed):
        self.residual, self.subset_rows, self.n_resamples, self.seed = residual, rows, n_resamples, seed
        self.common = self.rows(range(residual.shape[1]))
        self.shared = self._draw(self.common, slice(None))

    def rows(self, columns):
        """The subset's stars that every method of ``columns`` labelled."""
        return self.subset_rows & np.isfinite(self.residual[:, list(columns)]).all(axis=1)

    def of(self, columns):
        """Resampled scatter and bias, shape (n_resamples, len(columns)); NaN for too few stars."""
        rows = self.rows(columns)
        if np.array_equal(rows, self.common):
            return self.shared[0][:, columns], self.shared[1][:, columns]
        return self._draw(rows, list(columns))

    def _draw(self, rows, columns):
        n_columns = self.residual[:, columns].shape[1]
        if rows.sum() < MIN_SUBSET_STARS:
            return np.full((1, n_columns), np.nan), np.full((1, n_columns), np.nan)
        return bootstrap_scatter_bias(self.residual[rows][:, columns], self.n_resamples,
                                      np.random.default_rng(self.seed))


def _paired(method_a, method_b, label, subset, residual, resampled_scatter):
    """One row of the comparison table, on the stars both methods labelled."""
    n = len(residual)
    scatter_a, scatter_b = (robust_scatter(c) if n >= MIN_SUBSET_STARS else np.nan for c in residual.T)
    difference = scatter_a - scatter_b
    intervals = _intervals("difference", resampled_scatter[:, 0] - resampled_scatter[:, 1], difference)
    lo, hi = intervals["difference_lo95"], intervals["difference_hi95"]
    verdict = ("too few stars" if not np.isfinite(difference) else "undetermined" if not np.isfinite(lo + hi)
               else "tie" if lo <= 0 <= hi else f"{method_a} better" if difference < 0 else f"{method_b} better")
    return {"label": label, "subset": subset, "method_a": method_a, "method_b": method_b, "n": n,
            "scatter_a": scatter_a, "scatter_b": scatter_b, "difference": difference, **intervals, "verdict": verdict}
