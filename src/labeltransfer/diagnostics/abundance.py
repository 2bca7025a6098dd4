"""Abundance or correlation: does a method measure [alpha/M] from the spectrum, or infer it from
the other labels it predicts?

In the training set [alpha/M] follows [Fe/H] (and, less, Teff and logg) closely: the thin and
thick discs. A baseline that predicts [alpha/M] from a method's own predicted Teff, logg and
[Fe/H], by the training set's relation alone (the mean [alpha/M] of the ``K`` training stars
nearest in standardised Teff, logg, [Fe/H]), uses no spectral [alpha/M] information at all. A
method measures [alpha/M] from the spectrum only where its scatter is below that baseline's,
with the paired 95% bootstrap interval of the difference excluding zero; this is asked of all
test stars and of the ``DEPARTING`` fraction whose reference [alpha/M] departs most from the
training relation (where the correlation cannot stand in for a measurement).
"""

import numpy as np
import pandas as pd

from ..evaluation.summary import bootstrap_scatter_bias
from ..evaluation.metrics import robust_scatter
from ..data.neighbours import nearest

__all__ = ["K", "DEPARTING", "INPUTS", "relation_baseline", "abundance_or_correlation"]

#: Training stars averaged by the baseline.
K = 50
#: Fraction of test stars farthest from the training relation that form the "departing" subset.
DEPARTING = 0.2
#: The labels the baseline predicts [alpha/M] from.
INPUTS = ("teff", "logg", "fe_h")


def relation_baseline(train_inputs, train_target, inputs, k=K):
    """The mean target of the ``k`` training stars nearest to each row of ``inputs`` (standardised
    with the training stars' mean and spread); NaN where an input is missing."""
    usable = np.all(np.isfinite(train_inputs), axis=1) & np.isfinite(train_target)
    reference, target = train_inputs[usable], train_target[usable]
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    reference = (reference - mean) / std
    out = np.full(len(inputs), np.nan)
    rows = np.all(np.isfinite(inputs), axis=1)
    found, _ = nearest(reference, (inputs[rows] - mean) / std, min(k, len(reference)))
    out[rows] = target[found].mean(axis=1)
    return out


def abundance_or_correlation(predictions, train_labels, label_names, target="alpha_m", n_resamples=1000, seed=0):
    """Per method and subset (all, departing): the method's and the baseline's robust scatter in
    ``target`` and their difference with its 95% paired bootstrap interval.

    Parameters
    ----------
    predictions : dict of str to pandas.DataFrame
        Each method's prediction table (``<label>`` and ``<label>_ref`` of ``INPUTS`` and ``target``).
    train_labels : ndarray, shape (n_train, n_labels)
        The training split's reference labels, columns ``label_names``.
    label_names : sequence of str
    """
    columns = [list(label_names).index(name) for name in INPUTS]
    train_inputs, train_target = train_labels[:, columns], train_labels[:, list(label_names).index(target)]
    rng = np.random.default_rng(seed)
    rows = []
    for method, table in predictions.items():
        reference = table[f"{target}_ref"].to_numpy()
        trend = relation_baseline(train_inputs, train_target, table[[f"{n}_ref" for n in INPUTS]].to_numpy())
        departure = np.abs(reference - trend)
        departing = departure >= np.nanquantile(departure, 1 - DEPARTING)
        baseline = relation_baseline(train_inputs, train_target, table[list(INPUTS)].to_numpy())
        residuals = np.column_stack([table[target].to_numpy() - reference, baseline - reference])
        for subset, mask in (("all", np.isfinite(departure)), ("departing", departing)):
            good = mask & np.all(np.isfinite(residuals), axis=1)
            scatter, _ = bootstrap_scatter_bias(residuals[good], n_resamples, rng)
            difference = scatter[:, 0] - scatter[:, 1]
            lo, hi = np.percentile(difference, [2.5, 97.5])
            method_scatter, baseline_scatter = (robust_scatter(residuals[good, j]) for j in (0, 1))
            verdict = "measures" if hi < 0 else ("baseline better" if lo > 0 else "tie")
            rows.append({"method": method, "subset": subset, "n": int(good.sum()), "scatter": method_scatter,
                         "baseline_scatter": baseline_scatter, "difference": method_scatter - baseline_scatter,
                         "difference_lo95": lo, "difference_hi95": hi, "verdict": verdict})
    return pd.DataFrame(rows)
