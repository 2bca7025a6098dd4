"""The seed study: the default study's tables from several split seeds, summarised over the seeds
(:mod:`labeltransfer.evaluation.seeds`)."""

import logging

import pandas as pd

from ..evaluation.seeds import headline_markdown, seed_claims, seed_spread

__all__ = ["evaluate_seed_study"]

log = logging.getLogger(__name__)


def evaluate_seed_study(*, tasks, seeds, summary_paths, comparison_paths, labels, spread_path, claims_path,
                        table_path):
    """The spread over seeds (``spread_path``), the claims that hold on every seed (``claims_path``) and
    the headline table (``table_path``, Markdown) of the tasks' ``metrics/summary.csv`` and
    ``metrics/comparison.csv``, each task run with its seed of ``seeds`` (in the order of ``tasks``)."""
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seed study: the tasks {tasks} must each have their own seed, got {seeds}")
    summaries = {seed: pd.read_csv(path) for seed, path in zip(seeds, summary_paths)}
    comparisons = {seed: pd.read_csv(path) for seed, path in zip(seeds, comparison_paths)}
    spread, claims = seed_spread(summaries), seed_claims(comparisons)
    spread.to_csv(spread_path, index=False)
    claims.to_csv(claims_path, index=False)
    overall = spread[(spread["subset"] == "all")]
    log.info("%d seeds (%s): between-seed spread of the scatter over the mean 68%% bootstrap half-width, "
             "median %.2f (range %.2f-%.2f) over %d methods and labels; %d of %d pairs and labels with one "
             "method better on every seed", len(seeds), ", ".join(map(str, seeds)),
             overall["spread_over_half68"].median(), overall["spread_over_half68"].min(),
             overall["spread_over_half68"].max(), len(overall),
             int((claims.loc[claims["subset"] == "all", "winner"].fillna("") != "").sum()),
             int((claims["subset"] == "all").sum()))
    with open(table_path, "w") as handle:
        handle.write("# The default study over split seeds\n\n" + headline_markdown(spread, claims, labels))
