"""The learning curve: nested training subsets, the workflow's model as the last point, and the
size at which a method comes within 1.2 times its final scatter; the wavelength subsets: models
retrained on parts of the spectrum, against all pixels on the same stars."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.pipeline.diagnostic_summaries import _size_reaching, evaluate_learning_curve, evaluate_wavelength_subsets
from labeltransfer.pipeline.diagnostics import learning_curve, wavelength_subsets
from labeltransfer.pipeline.modelling import train_method
from labeltransfer.methods import load_method
from labeltransfer.data.sample import LabelledSample, build_sample
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


def test_wavelength_subsets_retrain_on_each_band_and_compare_with_all_pixels(run):
    bands = {"blue": [336, 500], "red": [800, 1020]}
    for train_size in (200, 10_000):  # a subsample (its own reference), then all (the workflow's model)
        wavelength_subsets(model_path=run / "knn.npz", sample_path=run / "sample.npz", split_path=run / "split.csv",
                           method=KNN, colours=[], seed=1, threads=1, gpus=0, bands=bands, train_size=train_size,
                           max_stars=100, predictions_path=run / "knn_bands.csv")
        table = pd.read_csv(run / "knn_bands.csv", dtype={"apogee_id": str})
        assert list(table["band"].unique()) == ["all", "blue", "red"]
        assert table.groupby("band")["n_pixels"].first().to_dict() == {"all": 343, "blue": 83, "red": 111}
        assert (table.groupby("band")["apogee_id"].apply(tuple).nunique()) == 1  # the same test stars
    sample = LabelledSample.load(run / "sample.npz")  # all training stars: the workflow's model is the reference
    reference = table[table["band"] == "all"]
    stars = sample.subset(sample.rows_of(reference["apogee_id"].to_numpy()))
    spectra = stars.spectra.select_aux([])  # the feature set "flux"
    assert np.allclose(reference["teff"], load_method("knn", run / "knn.npz").predict(spectra)[0][:, 0])
    evaluate_wavelength_subsets(methods=["knn"], prediction_paths=[run / "knn_bands.csv"], labels=["teff", "logg"],
                                seed=1, table_path=run / "bands.csv")
    summary = pd.read_csv(run / "bands.csv")
    assert len(summary) == 3 * 3 * 2 and summary.loc[summary["band"] == "all", "minus_all"].isna().all()
    compared = summary[(summary["band"] != "all") & (summary["subset"] == "all")]
    assert np.allclose(compared["minus_all"], compared["scatter"].to_numpy()
                       - summary[(summary["band"] == "all") & (summary["subset"] == "all")]["scatter"].to_numpy()[[0, 1, 0, 1]])
    assert (compared["minus_all_lo95"] <= compared["minus_all"]).all() and (compared["minus_all"] <= compared["minus_all_hi95"]).all()


def test_a_band_paired_difference_excludes_zero_where_it_is_much_worse(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(300)]
    truth = rng.normal(5000, 500, 300)
    rows = [pd.DataFrame({"band": band, "apogee_id": ids, "teff": truth + rng.normal(0, width, 300), "teff_err": width,
                          "teff_ref": truth, "logg_ref": np.where(np.arange(300) % 2, 2.0, 4.5)})
            for band, width in (("all", 50.0), ("bp", 100.0))]
    pd.concat(rows).to_csv(tmp_path / "m.csv", index=False)
    evaluate_wavelength_subsets(methods=["m"], prediction_paths=[tmp_path / "m.csv"], labels=["teff"], seed=0,
                                table_path=tmp_path / "t.csv")
    bp = pd.read_csv(tmp_path / "t.csv").set_index(["band", "subset"]).loc[("bp", "all")]
    assert 35 < bp["minus_all"] < 65 and bp["minus_all_lo95"] > 0


def test_the_mlp_s_components_are_capped_at_what_a_band_spans(run, caplog):
    mlp = {"type": "mlp", "feature_set": "flux", "params": {"flux_components": 40, "hidden_sizes": [16],
                                                            "epochs": 2, "n_members": 1}}
    train_method(sample_path=run / "sample.npz", split_path=run / "split.csv", method=mlp, colours=[], seed=1,
                 threads=1, gpus=0, model_path=run / "mlp.npz", timing_path=run / "mlp.json")
    with caplog.at_level("INFO", logger="labeltransfer.pipeline.diagnostics"):
        wavelength_subsets(model_path=run / "mlp.npz", sample_path=run / "sample.npz", split_path=run / "split.csv",
                           method=mlp, colours=[], seed=1, threads=1, gpus=0, bands={"narrow": [500, 560]},
                           train_size=200, max_stars=50, predictions_path=run / "mlp_bands.csv")
    assert "band narrow: flux_components 40 capped at the" in caplog.text
    assert set(pd.read_csv(run / "mlp_bands.csv")["band"]) == {"all", "narrow"}
