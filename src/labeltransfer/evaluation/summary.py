"""The metric tables: every metric per method, label and subset, with bootstrap intervals, and the
paired differences between methods; one path for the comparison (:func:`summarise`) and the
diagnostics (:func:`curve_metrics`, and :class:`Resamples` with :func:`paired_difference`).

The test stars of a subset are resampled with replacement ``n_resamples`` times (seeded);
each method's robust scatter and bias are recomputed on every resample, and the 16-84th and
2.5-97.5th percentiles give their 68% and 95% intervals: how much the number would move with
another draw of test stars of the same kind. The same resamples serve every method, so the
difference of two methods' scatters on each resample gives a paired interval; where the 95%
interval of a difference contains zero the two methods are tied. A pair is compared on the
stars both methods labelled (a method that gives no prediction for its hardest stars wins
nothing by it). The rows of the test split are resampled as independent stars: the split puts
the rows of one star together, and a test split holding two rows of one star would give
slightly narrow intervals. The comparison draws 1,000 resamples, each label and subset afresh from
its own seed; the diagnostics choose their number and draw on one generator over a whole table.
"""

from itertools import combinations

import numpy as np
import pandas as pd

from .metrics import MAD_TO_SIGMA, MIN_SUBSET_STARS, giant_dwarf_masks, label_metrics, robust_scatter, subset_masks

__all__ = ["N_RESAMPLES", "COMPARISON_SUBSETS", "CURVE_COLUMNS", "bootstrap_scatter_bias", "Resamples",
           "method_metrics", "paired_difference", "summarise", "curve_metrics"]

#: Bootstrap resamples of the test stars.
N_RESAMPLES = 1000
#: Percentiles of the 68% and 95% intervals.
_LEVELS = {"68": (15.865, 84.135), "95": (2.5, 97.5)}
#: Subsets in which every pair of methods is compared.
COMPARISON_SUBSETS = ("all", "giants", "dwarfs")
#: The metrics of a diagnostic's curve (:func:`curve_metrics`).
CURVE_COLUMNS = ("n", "scatter", "scatter_lo68", "scatter_hi68", "bias", "z_width")


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


class Resamples:
    """Bootstrap resamples of the stars of one subset, with the robust scatter and bias of residual
    columns (methods) on them; each set of columns is taken on the subset's stars that all of them
    labelled. The stars every column labelled (the usual case) are drawn once, on construction; a
    set of columns whose stars differ is drawn again when asked for.

    Parameters
    ----------
    residual : ndarray, shape (n_stars, n_columns)
        Predicted minus reference; NaN where a method gave no prediction or a star has no reference.
    n_resamples : int
    seed : int, sequence of int or numpy.random.Generator
        What ``numpy.random.default_rng`` takes: a seed starts every draw afresh from it (the
        comparison: one seed per label and subset); a Generator is drawn on, draw after draw (the
        diagnostics: one generator over a whole table).
    subset : ndarray of bool, shape (n_stars,), optional
        The subset's stars (default all).
    min_stars : int
        Fewer stars than this are not drawn: their scatter and bias are NaN.
    """

    def __init__(self, residual, n_resamples, seed, subset=None, min_stars=MIN_SUBSET_STARS):
        self.residual, self.n_resamples, self.seed, self.min_stars = residual, n_resamples, seed, min_stars
        self.subset = np.ones(len(residual), dtype=bool) if subset is None else subset
        self.common = self.rows(range(residual.shape[1]))
        self.shared = self._draw(self.common, slice(None))

    def rows(self, columns):
        """The subset's stars that every column of ``columns`` labelled, ndarray of bool, shape (n_stars,)."""
        return self.subset & np.isfinite(self.residual[:, list(columns)]).all(axis=1)

    def of(self, columns):
        """Resampled scatter and bias of ``columns``, each shape (n_resamples, len(columns)); NaN, shape
        (1, len(columns)), for too few stars."""
        rows = self.rows(columns)
        if np.array_equal(rows, self.common):
            return self.shared[0][:, columns], self.shared[1][:, columns]
        return self._draw(rows, list(columns))

    def _draw(self, rows, columns):
        n_columns = self.residual[:, columns].shape[1]
        if rows.sum() < self.min_stars:
            return np.full((1, n_columns), np.nan), np.full((1, n_columns), np.nan)
        return bootstrap_scatter_bias(self.residual[rows][:, columns], self.n_resamples,
                                      np.random.default_rng(self.seed))


def method_metrics(resamples, column, sigma, reference_err=None):
    """The metrics of one method on one subset, with the intervals of its scatter and bias.

    Parameters
    ----------
    resamples : Resamples
    column : int
        The method's column of ``resamples.residual``.
    sigma : ndarray, shape (n_stars,)
        The method's predicted uncertainties.
    reference_err : ndarray, shape (n_stars,), optional
        The reference labels' errors.

    Returns
    -------
    dict: :func:`labeltransfer.evaluation.metrics.label_metrics` on the subset's stars the method
    labelled, then ``scatter_lo68``, ``scatter_hi68``, ``scatter_lo95``, ``scatter_hi95`` and the
    same of ``bias``.
    """
    rows = resamples.rows([column])
    point = label_metrics(resamples.residual[rows, column], np.zeros(rows.sum()), sigma[rows],
                          None if reference_err is None else reference_err[rows], min_stars=resamples.min_stars)
    scatter, bias = resamples.of([column])
    return {**point, **_intervals("scatter", scatter[:, 0], point["scatter"]),
            **_intervals("bias", bias[:, 0], point["bias"])}


def paired_difference(resamples, a, b):
    """Robust scatter of column ``a`` minus that of column ``b`` on the subset's stars both labelled,
    with its intervals over the same resamples of those stars.

    Returns
    -------
    dict: ``n``, ``scatter_a``, ``scatter_b``, ``difference`` and ``difference_lo68``,
    ``difference_hi68``, ``difference_lo95``, ``difference_hi95`` (NaN under ``resamples.min_stars``).
    """
    rows = resamples.rows([a, b])
    n = int(rows.sum())
    scatter_a, scatter_b = (robust_scatter(resamples.residual[rows, c]) if n >= resamples.min_stars else np.nan
                            for c in (a, b))
    difference = scatter_a - scatter_b
    resampled = resamples.of([a, b])[0]
    return {"n": n, "scatter_a": scatter_a, "scatter_b": scatter_b, "difference": difference,
            **_intervals("difference", resampled[:, 0] - resampled[:, 1], difference)}


def _intervals(name, resampled, point):
    """``{name_lo68: ..., name_hi68: ..., name_lo95: ..., name_hi95: ...}`` of resampled values (NaN where
    the point estimate or a resample is)."""
    result = {}
    usable = np.isfinite(point) and np.isfinite(resampled).all()
    for level, (lo, hi) in _LEVELS.items():
        bounds = np.percentile(resampled, [lo, hi]) if usable else (np.nan, np.nan)
        result[f"{name}_lo{level}"], result[f"{name}_hi{level}"] = float(bounds[0]), float(bounds[1])
    return result


def summarise(predictions, label_names, snr_bins, has_parallax=None, teff_bins=None, n_resamples=N_RESAMPLES, seed=0):
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
    teff_bins : sequence of float, optional
        Edges of the bins of reference Teff in K (the ``teff_<lo>-<hi>`` subsets, from the
        ``teff_ref`` column); none: no Teff subsets.
    n_resamples : int
    seed : int
        Each label and subset draws from ``[seed, label index, subset index]``.

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
    if teff_bins is not None and "teff_ref" not in first:
        raise ValueError(f"Teff bins {list(teff_bins)} need the reference Teff, but the predictions of {methods[0]} "
                         "have no teff_ref column")
    masks = subset_masks(first["logg_ref"].to_numpy(), first["snr"].to_numpy(), snr_bins, has_parallax,
                         teff_reference=first.get("teff_ref"), teff_bins=teff_bins)
    summary, comparison = [], []
    for label_index, label in enumerate(label_names):
        reference = first[f"{label}_ref"].to_numpy(dtype=float)
        reference_err = first.get(f"{label}_ref_err", pd.Series(np.nan, index=first.index)).to_numpy(dtype=float)
        residual = np.column_stack([predictions[m][label].to_numpy(dtype=float) for m in methods]) - reference[:, None]
        sigma = np.column_stack([predictions[m][f"{label}_err"].to_numpy(dtype=float) for m in methods])
        for subset_index, (subset, mask) in enumerate(masks.items()):
            resamples = Resamples(residual, n_resamples, [seed, label_index, subset_index],
                                  subset=mask & np.isfinite(reference))
            summary += [{"method": method, "label": label, "subset": subset,
                         **method_metrics(resamples, j, sigma[:, j], reference_err)}
                        for j, method in enumerate(methods)]
            if subset in COMPARISON_SUBSETS:
                comparison += [_compared(methods[a], methods[b], label, subset, paired_difference(resamples, a, b))
                               for a, b in combinations(range(len(methods)), 2)]
    return pd.DataFrame(summary), pd.DataFrame(comparison)


def _compared(method_a, method_b, label, subset, pair):
    """One row of the comparison table: the pair's :func:`paired_difference` and its verdict."""
    difference, lo, hi = pair["difference"], pair["difference_lo95"], pair["difference_hi95"]
    verdict = ("too few stars" if not np.isfinite(difference) else "undetermined" if not np.isfinite(lo + hi)
               else "tie" if lo <= 0 <= hi else f"{method_a} better" if difference < 0 else f"{method_b} better")
    return {"label": label, "subset": subset, "method_a": method_a, "method_b": method_b, **pair, "verdict": verdict}


def curve_metrics(predictions, labels, by, n_resamples, seed):
    """The table of a diagnostic's curves (the S/N ladder, the learning curve, the wavelength subsets).

    Parameters
    ----------
    predictions : dict
        Method name -> prediction table (``by``, ``logg_ref`` and, per label, ``<label>``,
        ``<label>_err``, ``<label>_ref``), one point of the curve per value of ``by``.
    labels : sequence of str
    by : str
        The column that names the points of the curve (``level``, ``n_train``, ``band``).
    n_resamples : int
    seed : int
        One generator, drawn on for every method, point, subset and label in turn.

    Returns
    -------
    pandas.DataFrame
        One row per method, value of ``by``, subset (all, giants, dwarfs) and label: the columns
        ``CURVE_COLUMNS`` of :func:`method_metrics`.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for method, table in predictions.items():
        for value, part in table.groupby(by):
            for subset, mask in giant_dwarf_masks(part["logg_ref"].to_numpy()).items():
                for label in labels:
                    resamples = Resamples((part[label] - part[f"{label}_ref"]).to_numpy()[:, None], n_resamples, rng,
                                          subset=mask)
                    metrics = method_metrics(resamples, 0, part[f"{label}_err"].to_numpy())
                    rows.append({"method": method, by: value, "subset": subset, "label": label,
                                 **{name: metrics[name] for name in CURVE_COLUMNS}})
    return pd.DataFrame(rows)
