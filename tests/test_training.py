"""A model records the sample, split and seed it was trained on; another run's model is refused;
a damaged model file is named, and a model saved for a GPU runs on a CPU machine."""

import pandas as pd
import pytest

from labeltransfer.methods import IncompatibleDataError, load_method
from labeltransfer.pipeline.neural import plot_ensemble_calibration
from labeltransfer.pipeline.jobs import ProvenanceError
from labeltransfer.pipeline.prediction import predict_method
from labeltransfer.pipeline.training import train_method
from labeltransfer.data.sample import build_sample
from labeltransfer.data.split import freeze_split, split_sample
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}
METHOD = {"type": "knn", "feature_set": "flux", "params": {"n_neighbours": 3, "n_components": 5}}
FRACTIONS = {"train": 0.7, "validation": 0.15, "test": 0.15}


@pytest.fixture
def run(tmp_path):
    sample = build_sample(synthetic_stars(200, seed=2), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, ["bp_rp"])
    freeze_split(sample, split_sample(sample.apogee_id, FRACTIONS, seed=42), tmp_path / "sample.npz", tmp_path / "split.csv")
    (tmp_path / "seed7").mkdir()  # the same stars split with another seed: another run's data
    freeze_split(sample, split_sample(sample.apogee_id, FRACTIONS, seed=7), tmp_path / "seed7" / "sample.npz",
                 tmp_path / "seed7" / "split.csv")
    train_method(sample_path=tmp_path / "sample.npz", split_path=tmp_path / "split.csv", method=METHOD, colours=["bp_rp"],
                 seed=42, threads=1, gpus=0, model_path=tmp_path / "knn.npz", timing_path=tmp_path / "knn.fit.json")
    return tmp_path


def _predict(path, data=".", seed=42):
    predict_method(model_path=path / "knn.npz", sample_path=path / data / "sample.npz",
                   split_path=path / data / "split.csv", method=METHOD, colours=["bp_rp"], seed=seed, threads=1, gpus=0,
                   predictions_path=path / "knn.csv", timing_path=path / "knn.json")


def test_a_model_of_this_run_predicts(run):
    _predict(run)
    assert len(pd.read_csv(run / "knn.csv")) == 30


def test_a_model_of_another_split_or_seed_is_refused_naming_both(run):
    with pytest.raises(ProvenanceError, match=r"knn\.npz was trained on another run \(split [0-9a-f]{12}\) than this "
                                              r"one \(split [0-9a-f]{12}\)"):
        _predict(run, data="seed7")
    with pytest.raises(ProvenanceError, match=r"\(seed 42\) than this one \(seed 7\)"):
        _predict(run, seed=7)


def test_a_truncated_model_file_is_named_with_what_to_do(run):
    data = (run / "knn.npz").read_bytes()
    (run / "knn.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(IncompatibleDataError, match=r"knn\.npz is not a complete model file .*delete it and rerun"):
        _predict(run)


def test_a_network_saved_for_a_gpu_is_plotted_on_the_cpu(run):
    mlp = {"type": "mlp", "feature_set": "flux",
           "params": {"hidden_sizes": [16], "epochs": 2, "n_members": 2, "patience": 2}}
    job = {"sample_path": run / "sample.npz", "split_path": run / "split.csv", "method": mlp, "colours": ["bp_rp"],
           "seed": 42, "threads": 1}
    train_method(**job, gpus=0, model_path=run / "mlp.npz", timing_path=run / "mlp.fit.json")
    model = load_method("mlp", run / "mlp.npz")
    model.device = "cuda"  # as trained on a GPU node
    model.save(run / "mlp.npz")
    plot_ensemble_calibration(**job, model_path=run / "mlp.npz", snr_bins=[0, 50, float("inf")],
                              figure_path=run / "ensemble.png")
    assert (run / "ensemble.png").stat().st_size > 0
