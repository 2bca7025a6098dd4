"""How well a spectrum model describes the spectra (labeltransfer.pipeline.spectrum_model): the reduced
chi-square with the flux errors alone against a known model, and the table, fits file and figure of a small
Payne trained as the workflow trains it, with and without the extinction among its parameters."""

import struct

import numpy as np
import pandas as pd
import pytest

from labeltransfer.data.sample import LabelledSample, build_sample
from labeltransfer.data.spectra import Spectra
from labeltransfer.data.split import freeze_split, read_split, split_sample
from labeltransfer.evaluation.metrics import robust_scatter
from labeltransfer.pipeline.spectrum_model import evaluate_spectrum_model, flux_error_reduced_chi2, plot_spectrum_model
from labeltransfer.pipeline.training import train_method
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}
SNR_BINS = [10, 60, 100, 200, float("inf")]
#: A small emulator, trained briefly: the table's shape and the figure need a fitted model, not a good one.
PAYNE = {"hidden_sizes": [16, 16], "learning_rate": 5e-3, "batch_size": 64, "epochs": 8, "patience": 3}


class ConstantModel:
    """A spectrum model whose flux is one at every pixel, with two parameters."""

    parameter_names_ = ("teff", "logg")

    def model_flux(self, parameters, extra=None):
        return np.ones((len(parameters), 6)), np.zeros((len(parameters), 6, 2))


def test_the_flux_error_reduced_chi2_counts_the_usable_pixels_and_the_parameters():
    flux = np.array([[1.1, 0.9, 1.0, 1.2, 1.0, 5.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    error = np.array([[0.1, 0.1, 0.1, 0.1, 0.2, np.inf], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1]])
    spectra = Spectra(flux, error, np.linspace(400, 900, 6), np.empty((2, 0)), ())
    found = flux_error_reduced_chi2(model=ConstantModel(), spectra=spectra, parameters=np.zeros((2, 2)))
    # star 0: (1 + 1 + 0 + 4 + 0) over 5 usable pixels less 2 parameters; the masked sixth pixel counts nothing
    np.testing.assert_allclose(found, [6 / 3, 0.0])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small XP-library-like sample (S/N ~100, A_K of every star), its split, and a small Payne trained by
    the workflow's step, with the extinction (``payne.npz``) and without (``payne_labels.npz``)."""
    folder = tmp_path_factory.mktemp("spectrum_model")
    sample = build_sample(synthetic_stars(300, seed=3), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    freeze_split(sample, split_sample(sample.apogee_id, {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=1),
                 folder / "sample.npz", folder / "split.csv")
    job = {"sample_path": folder / "sample.npz", "split_path": folder / "split.csv", "colours": [], "seed": 1}
    methods = {}
    for name, extinction in (("payne", True), ("payne_labels", False)):
        methods[name] = {"type": "payne", "feature_set": "flux", "params": {**PAYNE, "extinction": extinction}}
        train_method(**job, method=methods[name], threads=1, gpus=0, model_path=folder / f"{name}.npz",
                     timing_path=folder / f"{name}.fit.json")
    sample = LabelledSample.load(folder / "sample.npz")
    return folder, job, methods, sample, read_split(folder / "split.csv", sample)


def _outputs(folder, name):
    """The step's paths for the model ``name``: its table, fits file and figure."""
    return {"table_path": folder / f"{name}.csv", "fits_path": folder / f"{name}.fits.npz"}, folder / f"{name}.png"


def _read(paths):
    """The table and the fits file the step wrote."""
    with np.load(paths["fits_path"]) as fits:
        return pd.read_csv(paths["table_path"]), dict(fits)


def _png_width(path):
    """The width in pixels of a PNG file (refused unless it starts with the PNG signature)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">I", head[16:20])[0]


def test_the_table_has_each_s_n_bin_and_the_fitted_extinction_against_the_reference(run):
    folder, job, methods, sample, rows = run
    paths, figure = _outputs(folder, "payne")
    evaluate_spectrum_model(**job, method=methods["payne"], model_path=folder / "payne.npz", snr_bins=SNR_BINS,
                            threads=1, gpus=0, **paths)
    plot_spectrum_model(**paths, method_name="payne", figure_path=figure)
    table, fits = _read(paths)
    assert list(table["subset"]) == ["all", "snr_10-60", "snr_60-100", "snr_100-200", "snr_200-inf"]
    validation, test = sample.subset(rows["validation"]), sample.subset(rows["test"])
    assert table["n_validation"].iloc[0] == len(validation.snr) == table["n_validation"].iloc[1:].sum()
    assert len(fits["reduced_chi2"]) == len(validation.snr) and len(fits["intrinsic_scatter"]) == 343
    # the same best fits weighed by the flux errors alone: the scatter only adds to each pixel's variance
    assert np.all(fits["reduced_chi2_flux_errors"] >= fits["reduced_chi2"] * (1 - 1e-4))
    filled = table["n_validation"] > 0
    assert (table.loc[filled, "reduced_chi2_flux_errors_median"] >= table.loc[filled, "reduced_chi2_median"]).all()
    assert (table.loc[filled, "reduced_chi2_p16"] <= table.loc[filled, "reduced_chi2_median"]).all()
    assert table.loc[~filled, "reduced_chi2_median"].isna().all()
    assert table.loc[filled, "restarted_fraction"].between(0, 1).all()
    # A_K of the test stars with a reference, fitted minus reference, with its interval
    known = np.isfinite(test.extinction_k)
    overall = table.iloc[0]
    assert overall["n_test_a_k"] == known.sum() >= 30 and len(fits["a_k_fitted"]) == known.sum()
    residual = fits["a_k_fitted"] - fits["a_k_reference"]
    assert overall["a_k_bias"] == pytest.approx(np.median(residual))
    assert overall["a_k_scatter"] == pytest.approx(robust_scatter(residual))
    assert overall["a_k_scatter_lo68"] <= overall["a_k_scatter"] <= overall["a_k_scatter_hi68"]
    assert _png_width(figure) > 1500  # three panels


def test_a_model_without_the_extinction_has_no_extinction_columns_and_two_panels(run):
    folder, job, methods, _, _ = run
    paths, figure = _outputs(folder, "payne_labels")
    evaluate_spectrum_model(**job, method=methods["payne_labels"], model_path=folder / "payne_labels.npz",
                            snr_bins=SNR_BINS, threads=1, gpus=0, **paths)
    plot_spectrum_model(**paths, method_name="payne_labels", figure_path=figure)
    table, fits = _read(paths)
    assert not [column for column in table if column.startswith(("a_k", "n_test"))]
    assert "a_k_fitted" not in fits and np.isfinite(table["reduced_chi2_median"].iloc[0])
    assert 800 < _png_width(figure) < 1500  # two panels
