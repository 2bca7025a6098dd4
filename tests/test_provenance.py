"""A model records the sample, split and seed it was trained on; another run's model is refused."""

import pandas as pd
import pytest

from labeltransfer.io.xp_library import XP_WAVELENGTH
from labeltransfer.pipeline.modelling import ProvenanceError, predict_method, train_method
from labeltransfer.preprocess import build_sample
from labeltransfer.split import split_sample, write_split
from library_factory import synthetic_library

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}
METHOD = {"type": "knn", "feature_set": "flux", "params": {"n_neighbours": 3, "n_components": 5}}
FRACTIONS = {"train": 0.7, "validation": 0.15, "test": 0.15}


@pytest.fixture
def run(tmp_path):
    library = synthetic_library(200, seed=2) | {"wavelength": XP_WAVELENGTH}
    matches = pd.DataFrame({"apogee_id": library["apogee_id"], "parallax": 1.0, "parallax_error": 0.1})
    sample = build_sample(library, matches, LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, ["bp_rp"])
    sample.save(tmp_path / "sample.npz")
    write_split(split_sample(sample.ids, FRACTIONS, seed=42), tmp_path / "split.csv")
    write_split(split_sample(sample.ids, FRACTIONS, seed=7), tmp_path / "split_seed7.csv")
    train_method(tmp_path / "sample.npz", tmp_path / "split.csv", METHOD, ["bp_rp"], 42, 1, 0, tmp_path / "knn.npz",
                 tmp_path / "knn.fit.json")
    return tmp_path


def _predict(path, split="split.csv", seed=42):
    predict_method(model_path=path / "knn.npz", sample_path=path / "sample.npz", split_path=path / split,
                   method=METHOD, colours=["bp_rp"], seed=seed, threads=1, gpus=0,
                   predictions_path=path / "knn.csv", timing_path=path / "knn.json")


def test_a_model_of_this_run_predicts(run):
    _predict(run)
    assert len(pd.read_csv(run / "knn.csv")) == 30


def test_a_model_of_another_split_or_seed_is_refused_naming_both(run):
    with pytest.raises(ProvenanceError, match=r"knn\.npz was trained on another run \(split [0-9a-f]{12}\) than this "
                                              r"one \(split [0-9a-f]{12}\)"):
        _predict(run, split="split_seed7.csv")
    with pytest.raises(ProvenanceError, match=r"\(seed 42\) than this one \(seed 7\)"):
        _predict(run, seed=7)
