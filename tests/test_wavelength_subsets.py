"""The wavelength subsets: models retrained on parts of the spectrum, against all pixels on the same
stars (the trained run: tests/test_learning_curve.py's)."""

import numpy as np
import pandas as pd

from labeltransfer.data.sample import LabelledSample
from labeltransfer.methods import load_method
from labeltransfer.pipeline.training import train_method
from labeltransfer.pipeline.wavelength_subsets import evaluate_wavelength_subsets, wavelength_subsets
from test_learning_curve import KNN, run  # noqa: F401  (run: the trained run, a fixture)


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
    with caplog.at_level("INFO", logger="labeltransfer.pipeline.wavelength_subsets"):
        wavelength_subsets(model_path=run / "mlp.npz", sample_path=run / "sample.npz", split_path=run / "split.csv",
                           method=mlp, colours=[], seed=1, threads=1, gpus=0, bands={"narrow": [500, 560]},
                           train_size=200, max_stars=50, predictions_path=run / "mlp_bands.csv")
    assert "band narrow: flux_components 40 capped at the" in caplog.text
    assert set(pd.read_csv(run / "mlp_bands.csv")["band"]) == {"all", "narrow"}
