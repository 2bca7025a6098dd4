"""The learning curve: nested training subsets, the workflow's model as the last point, and the
size at which a method comes within 1.2 times its final scatter."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.pipeline.learning_curve import _size_reaching, evaluate_learning_curve, learning_curve
from labeltransfer.pipeline.training import train_method
from labeltransfer.data.sample import build_sample
from labeltransfer.data.split import freeze_split, split_sample
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}
KNN = {"type": "knn", "feature_set": "flux", "params": {"n_neighbours": 3, "n_components": 5}}
CANNON = {"type": "cannon", "feature_set": "flux", "params": {"order": 3}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("curve")
    sample = build_sample(synthetic_stars(600, seed=3), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    freeze_split(sample, split_sample(sample.apogee_id, {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=1),
                 path / "sample.npz", path / "split.csv")
    for name, method in (("knn", KNN), ("cannon", CANNON)):
        train_method(sample_path=path / "sample.npz", split_path=path / "split.csv", method=method, colours=[],
                     seed=1, threads=1, gpus=0, model_path=path / f"{name}.npz", timing_path=path / f"{name}.json")
    return path


def _curve(run, name, method, sizes):
    learning_curve(model_path=run / f"{name}.npz", sample_path=run / "sample.npz", split_path=run / "split.csv",
                   method=method, colours=[], seed=1, threads=1, gpus=0, sizes=sizes, max_stars=100,
                   predictions_path=run / f"{name}_curve.csv")
    return pd.read_csv(run / f"{name}_curve.csv")


def test_nested_sizes_then_the_workflow_model_on_the_same_test_stars(run):
    table = _curve(run, "knn", KNN, [20, 100, 5000])  # 5000: not below the 360 training stars, left out
    sizes = table.groupby("n_train")["apogee_id"].apply(list)
    assert list(sizes.index) == [20, 100, 360] and all(ids == sizes.iloc[0] for ids in sizes)
    assert len(sizes.iloc[0]) == 100
    evaluate_learning_curve(methods=["knn"], prediction_paths=[run / "knn_curve.csv"], labels=["teff", "logg"],
                            seed=1, table_path=run / "metrics.csv")
    metrics = pd.read_csv(run / "metrics.csv")
    teff = metrics[(metrics["subset"] == "all") & (metrics["label"] == "teff")].set_index("n_train")["scatter"]
    assert teff[20] > teff[360]  # more training stars, better labels


def test_a_size_too_small_for_the_cannon_is_left_out(run):
    table = _curve(run, "cannon", CANNON, [15, 100])  # a cubic in 2 labels has 10 terms: 15 stars are too few
    assert sorted(table["n_train"].unique()) == [100, 360]


def test_size_reaching_interpolates_in_log_size():
    curve = pd.DataFrame({"n_train": [100, 1000, 10000], "scatter": [3.0, 1.5, 1.0]})
    assert _size_reaching(curve, 1.2) == pytest.approx(10 ** (3 + (1.5 - 1.2) / 0.5))
    assert np.isnan(_size_reaching(curve.assign(scatter=[1.1, 1.05, 1.0]), 1.2))  # never above 1.2x
