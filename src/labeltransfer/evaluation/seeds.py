"""The spread over split seeds: one study run on several seeds (split and initialisations), summarised.

A test-set bootstrap says how a number would move with another draw of test stars from the same
trained models; another seed also draws another training set, other initial weights and other
k-means starts, and moves the numbers more. For each method, label and subset this module gives
the mean over the seeds of the robust scatter (and of the 1-sigma coverage), the spread between
seeds (the sample standard deviation, ddof 1) and the mean half-width of the per-seed 68%
bootstrap interval: a spread well above the half-width means the bootstrap understates
run-to-run variation. For each pair of methods and label it counts the seeds on which each beats
the other (the per-seed paired 95% interval excludes zero) and the ties: a claim "A beats B" is
made only where A wins on every seed.
"""

import numpy as np
import pandas as pd

__all__ = ["seed_spread", "seed_claims", "headline_markdown"]

#: The columns of the per-seed summaries that the spread reports.
_SPREAD_OF = ("scatter", "cover_1")


def _stacked(tables):
    """The per-seed tables (``{seed: DataFrame}``) in one, with a ``seed`` column."""
    if len(tables) < 2:
        raise ValueError(f"a spread over seeds needs at least two seeds, got {len(tables)}")
    return pd.concat([table.assign(seed=seed) for seed, table in tables.items()], ignore_index=True)


def _complete_groups(table, keys, n_seeds):
    """The groups of ``table`` by ``keys`` that every one of the ``n_seeds`` seeds holds: (key, group) pairs."""
    return [(key, group) for key, group in table.groupby(keys, sort=False) if group["seed"].nunique() == n_seeds]


def seed_spread(summaries):
    """The mean, the between-seed spread and the mean bootstrap half-width of each method's metrics.

    Parameters
    ----------
    summaries : dict of int to pandas.DataFrame
        Per seed, the workflow's ``metrics/summary.csv`` (columns ``method``, ``label``, ``subset``,
        ``scatter``, ``scatter_lo68``, ``scatter_hi68``, ``cover_1``).

    Returns
    -------
    pandas.DataFrame
        One row per method, label and subset held by every seed: ``n_seeds``, ``seeds``, and for the
        scatter and the 1-sigma coverage (``cover_1``) their ``_mean``, ``_spread`` (standard
        deviation between seeds), ``_min`` and ``_max``; ``scatter_half68`` (the mean half-width of
        the seeds' 68% bootstrap intervals) and ``spread_over_half68`` (their ratio).
    """
    table = _stacked(summaries)
    table["half68"] = (table["scatter_hi68"] - table["scatter_lo68"]) / 2
    n_seeds = len(summaries)
    rows = []
    for (method, label, subset), group in _complete_groups(table, ["method", "label", "subset"], n_seeds):
        row = {"method": method, "label": label, "subset": subset, "n_seeds": n_seeds,
               "seeds": " ".join(str(s) for s in group["seed"])}
        for column in _SPREAD_OF:
            values = group[column].to_numpy(dtype=float)
            row.update({f"{column}_mean": values.mean(), f"{column}_spread": values.std(ddof=1),
                        f"{column}_min": values.min(), f"{column}_max": values.max()})
        row["scatter_half68"] = group["half68"].mean()
        row["spread_over_half68"] = row["scatter_spread"] / row["scatter_half68"]
        rows.append(row)
    return pd.DataFrame(rows)


def seed_claims(comparisons):
    """On how many seeds each method of each pair beats the other.

    Parameters
    ----------
    comparisons : dict of int to pandas.DataFrame
        Per seed, the workflow's ``metrics/comparison.csv`` (``label``, ``subset``, ``method_a``,
        ``method_b``, ``difference``, ``difference_lo95``, ``difference_hi95``, ``verdict``).

    Returns
    -------
    pandas.DataFrame
        One row per pair, label and subset held by every seed: ``n_seeds``, ``a_wins``, ``b_wins``,
        ``ties`` (seeds of each verdict), ``difference_mean`` (A's scatter minus B's, mean over the
        seeds), ``difference_min``, ``difference_max``, and ``winner``: the method that wins on every seed (empty where neither
        does: no claim).
    """
    table = _stacked(comparisons)
    n_seeds = len(comparisons)
    rows = []
    for (label, subset, a, b), group in _complete_groups(table, ["label", "subset", "method_a", "method_b"], n_seeds):
        verdicts = group["verdict"]
        a_wins, b_wins = int((verdicts == f"{a} better").sum()), int((verdicts == f"{b} better").sum())
        winner = a if a_wins == n_seeds else b if b_wins == n_seeds else ""
        difference = group["difference"].to_numpy(dtype=float)
        rows.append({"label": label, "subset": subset, "method_a": a, "method_b": b, "n_seeds": n_seeds,
                     "a_wins": a_wins, "b_wins": b_wins, "ties": int((verdicts == "tie").sum()),
                     "difference_mean": difference.mean(), "difference_min": difference.min(),
                     "difference_max": difference.max(), "winner": winner})
    return pd.DataFrame(rows)


def headline_markdown(spread, claims, labels):
    """The headline table (for README) from :func:`seed_spread` and :func:`seed_claims` (subset ``all``).

    One row per method: per label the mean scatter over seeds, the spread between seeds and, in
    brackets, the mean 68% bootstrap half-width; then the mean 1-sigma coverage per label (%),
    and below the table the pairs where one method beats the other on every seed.
    """
    overall = spread[spread["subset"] == "all"]
    seeds = overall["seeds"].iloc[0] if len(overall) else ""
    header = ["method", *labels, "within 1 sigma (%)"]
    lines = [f"Mean over seeds {seeds} +- spread between seeds (mean 68% bootstrap half-width):", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, group in overall.groupby("method", sort=False):
        by_label = group.set_index("label")
        cells = [_mean_spread(by_label.loc[label]) if label in by_label.index else "" for label in labels]
        coverage = ", ".join(f"{100 * by_label.loc[label, 'cover_1_mean']:.0f}" for label in labels
                             if label in by_label.index)
        lines.append(f"| `{method}` | " + " | ".join(cells) + f" | {coverage} |")
    compared = claims[claims["subset"] == "all"]
    held = compared[compared["winner"].fillna("") != ""]
    lines += ["", f"Better on every seed (paired 95% intervals; {len(held)} of {len(compared)} pairs and labels):"]
    lines += [f"- {r.label}: `{r.winner}` better than "
              f"`{r.method_b if r.winner == r.method_a else r.method_a}`" for r in held.itertuples()]
    return "\n".join(lines) + "\n"


def _mean_spread(row):
    """``mean +- spread (half68)`` with digits for the scatter's size."""
    digits = max(0, 2 - int(np.floor(np.log10(abs(row["scatter_mean"]))))) if row["scatter_mean"] > 0 else 3
    return (f"{row['scatter_mean']:.{digits}f} +- {row['scatter_spread']:.{digits}f} "
            f"({row['scatter_half68']:.{digits}f})")
