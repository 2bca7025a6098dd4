"""The spread over split seeds: mean, between-seed spread, bootstrap half-width, claims on every seed."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.evaluation.seeds import headline_markdown, seed_claims, seed_spread
from labeltransfer.pipeline.seed_study import evaluate_seed_study

#: Per seed, each method's Teff scatter and half-width of its 68% interval.
SCATTER = {1: {"mlp": (45.0, 0.5), "cnn": (52.0, 0.6)},
           2: {"mlp": (47.0, 0.7), "cnn": (53.0, 0.6)},
           3: {"mlp": (46.0, 0.6), "cnn": (51.0, 0.6)}}


def _summary(seed):
    rows = [{"method": m, "label": "teff", "subset": "all", "scatter": s, "scatter_lo68": s - h,
             "scatter_hi68": s + h, "cover_1": 0.68 + 0.01 * seed} for m, (s, h) in SCATTER[seed].items()]
    if seed != 3:  # a subset one seed lacks is left out of the spread
        rows.append({"method": "mlp", "label": "teff", "subset": "snr_10-30", "scatter": 90.0, "scatter_lo68": 85.0,
                     "scatter_hi68": 95.0, "cover_1": 0.6})
    return pd.DataFrame(rows)


def _comparison(verdicts):
    """Per seed, the mlp-cnn and mlp-knn Teff comparisons with the given verdicts."""
    return {seed: pd.DataFrame([
        {"label": "teff", "subset": "all", "method_a": "mlp", "method_b": b, "difference": -5.0 - seed,
         "difference_lo95": -7.0, "difference_hi95": -3.0, "verdict": verdict}
        for b, verdict in pair.items()]) for seed, pair in verdicts.items()}


def test_spread_is_the_mean_and_standard_deviation_over_seeds_beside_the_bootstrap_half_width():
    spread = seed_spread({seed: _summary(seed) for seed in SCATTER})
    assert len(spread) == 2  # the S/N subset that seed 3 lacks is left out
    mlp = spread[spread["method"] == "mlp"].iloc[0]
    assert mlp["n_seeds"] == 3 and mlp["seeds"] == "1 2 3"
    assert mlp["scatter_mean"] == pytest.approx(46.0)
    assert mlp["scatter_spread"] == pytest.approx(1.0)  # sample standard deviation of 45, 47, 46
    assert (mlp["scatter_min"], mlp["scatter_max"]) == (45.0, 47.0)
    assert mlp["scatter_half68"] == pytest.approx(0.6)
    assert mlp["spread_over_half68"] == pytest.approx(1.0 / 0.6)
    assert mlp["cover_1_mean"] == pytest.approx(0.70)


def test_a_claim_stands_only_where_it_holds_on_every_seed():
    claims = seed_claims(_comparison({1: {"cnn": "mlp better", "knn": "mlp better"},
                                      2: {"cnn": "mlp better", "knn": "tie"},
                                      3: {"cnn": "mlp better", "knn": "knn better"}}))
    cnn, knn = (claims[claims["method_b"] == b].iloc[0] for b in ("cnn", "knn"))
    assert (cnn["a_wins"], cnn["b_wins"], cnn["ties"], cnn["winner"]) == (3, 0, 0, "mlp")
    assert (knn["a_wins"], knn["b_wins"], knn["ties"]) == (1, 1, 1)
    assert pd.isna(knn["winner"]) or knn["winner"] == ""
    assert cnn["difference_mean"] == pytest.approx(-7.0)
    markdown = headline_markdown(seed_spread({seed: _summary(seed) for seed in SCATTER}), claims, ["teff"])
    assert "| `mlp` | 46.0 +- 1.0 (0.6) | 70 |" in markdown
    assert "1 of 2 pairs and labels" in markdown and "- teff: `mlp` better than `cnn`" in markdown
    assert "`knn`" not in markdown


def test_one_seed_is_no_spread():
    with pytest.raises(ValueError, match="at least two seeds"):
        seed_spread({1: _summary(1)})


def test_the_study_writes_its_tables_and_refuses_tasks_of_one_seed(tmp_path):
    paths = {}
    for seed in SCATTER:
        paths[seed] = (tmp_path / f"summary{seed}.csv", tmp_path / f"comparison{seed}.csv")
        _summary(seed).to_csv(paths[seed][0], index=False)
        _comparison({seed: {"cnn": "mlp better"}})[seed].to_csv(paths[seed][1], index=False)
    outputs = {"spread_path": tmp_path / "spread.csv", "claims_path": tmp_path / "claims.csv",
               "table_path": tmp_path / "summary.md"}
    tasks = [f"task{seed}" for seed in SCATTER]
    evaluate_seed_study(tasks=tasks, seeds=list(SCATTER), summary_paths=[p[0] for p in paths.values()],
                        comparison_paths=[p[1] for p in paths.values()], labels=["teff"], **outputs)
    assert np.isclose(pd.read_csv(outputs["spread_path"])["scatter_mean"], [46.0, 52.0]).all()
    assert pd.read_csv(outputs["claims_path"])["winner"].tolist() == ["mlp"]
    assert outputs["table_path"].read_text().startswith("# The default study over split seeds")
    with pytest.raises(ValueError, match="must each have their own seed"):
        evaluate_seed_study(tasks=tasks, seeds=[1, 1, 2], summary_paths=[], comparison_paths=[], labels=["teff"],
                            **outputs)
