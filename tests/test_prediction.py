"""One prediction-table builder (labeltransfer.data.predictions.prediction_table) for the test split's
predictions and the survey's catalogues: both callers use it, and each output keeps its columns."""

import numpy as np
import pandas as pd
import pytest

import labeltransfer.data.predictions as predictions
import labeltransfer.survey.catalogue as catalogue
from labeltransfer.data.predictions import prediction_table
from labeltransfer.data.sample import build_sample
from labeltransfer.data.split import freeze_split, split_sample
from labeltransfer.methods import load_model_file
from labeltransfer.pipeline.prediction import predict_method
from labeltransfer.pipeline.training import train_method
from labeltransfer.survey.labelling import SurveyModel, label_file
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}
KNN = {"type": "knn", "feature_set": "flux", "params": {"n_neighbours": 3, "n_components": 5}}


@pytest.fixture
def builds(monkeypatch):
    """The id column of every table prediction_table builds, wherever it is called from."""
    assert catalogue.prediction_table is predictions.prediction_table  # the catalogue's rows: the same function
    calls = []

    def recorded(id_column, *args, **kwargs):
        calls.append(id_column)
        return prediction_table(id_column, *args, **kwargs)

    monkeypatch.setattr(predictions, "prediction_table", recorded)
    monkeypatch.setattr(catalogue, "prediction_table", recorded)
    return calls


def test_the_test_split_s_predictions_and_the_catalogues_are_built_by_one_function(tmp_path, builds):
    sample = build_sample(synthetic_stars(300, seed=3), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    freeze_split(sample, split_sample(sample.apogee_id, {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=1),
                 tmp_path / "sample.npz", tmp_path / "split.csv")
    job = {"sample_path": tmp_path / "sample.npz", "split_path": tmp_path / "split.csv", "method": KNN,
           "colours": [], "seed": 1, "threads": 1, "gpus": 0}
    train_method(**job, model_path=tmp_path / "knn.npz", timing_path=tmp_path / "fit.json")
    predict_method(**job, model_path=tmp_path / "knn.npz", predictions_path=tmp_path / "knn.csv",
                   timing_path=tmp_path / "predict.json")
    assert builds == ["apogee_id"]
    written = pd.read_csv(tmp_path / "knn.csv")
    assert list(written.columns) == [
        "apogee_id", "snr", "teff", "teff_err", "teff_ref", "teff_ref_err", "logg", "logg_err", "logg_ref",
        "logg_ref_err", "flags", "reference_beyond_training"]
    assert written["reference_beyond_training"].isin([0, 1]).all()  # every test star has both reference labels

    model = SurveyModel("knn", load_model_file(tmp_path / "knn.npz"), tmp_path / "knn.npz")
    spectra = sample.spectra
    np.savez(tmp_path / "survey.npz", source_id=np.arange(1, 41), flux=spectra.flux[:40],
             flux_error=spectra.flux_error[:40], wavelength=spectra.wavelength)
    np.savez(tmp_path / "none.npz", source_id=np.empty(0, np.int64), flux=spectra.flux[:0],
             flux_error=spectra.flux_error[:0], wavelength=spectra.wavelength)
    label_file(tmp_path / "survey.npz", [model], [tmp_path / "survey.parquet"], block_rows=25, progress=False)
    label_file(tmp_path / "none.npz", [model], [tmp_path / "none.parquet"], progress=False)
    assert builds == ["apogee_id", "source_id", "source_id", "source_id"]  # two blocks, then the empty file
    documented = {"source_id": "int64", "snr": "float32", "teff": "float32", "teff_err": "float32",
                  "logg": "float32", "logg_err": "float32", "flags": "int16"}
    assert list(catalogue.column_descriptions(["teff", "logg"])) == list(documented)
    for name, n_rows in (("survey", 40), ("none", 0)):
        table = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert len(table) == n_rows and table.dtypes.astype(str).to_dict() == documented, name
        assert list(table.columns) == list(documented), name


def test_a_prediction_table_s_columns_come_in_one_order():
    labels, sigma = np.array([[5000.0, 2.5], [4000.0, 1.5]]), np.array([[50.0, 0.1], [40.0, 0.2]])
    table = prediction_table("apogee_id", np.array(["a", "b"]), np.array([30.0, 40.0]), ["teff", "logg"], labels, sigma,
                             reference=(labels + 1, sigma / 2), leading={"level": 10, "n_pixels": np.array([3, 4])},
                             flags=np.array([0, 4]), reference_beyond=np.array([1.0, np.nan]))
    assert list(table.columns) == ["level", "n_pixels", "apogee_id", "snr", "teff", "teff_err", "teff_ref",
                                   "teff_ref_err", "logg", "logg_err", "logg_ref", "logg_ref_err", "flags",
                                   "reference_beyond_training"]
    assert table["level"].tolist() == [10, 10] and table["logg_ref"].tolist() == [3.5, 2.5]
    assert (table.dtypes.drop(["apogee_id", "level", "n_pixels", "flags"]) == np.float64).all()
    stored = prediction_table("source_id", np.array([7, 8]), np.array([30.0, 40.0]), ["teff", "logg"], labels, sigma,
                              dtype=np.float32)
    assert list(stored.columns) == ["source_id", "snr", "teff", "teff_err", "logg", "logg_err"]
    assert (stored.dtypes.drop("source_id") == np.float32).all() and stored["source_id"].dtype == np.int64
