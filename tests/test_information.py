"""The information bound's steps (labeltransfer.pipeline.information) on a spectrum model linear in its
parameters (the interface of a fitted Payne): each ladder star's information at each level under the
ladder's noise, the bound's tables, each flux-only method's efficiency and the figure; and the bound of a
small Payne trained as the workflow trains it."""

import numpy as np
import pandas as pd
import pytest

import labeltransfer.pipeline.information as information
from labeltransfer.data.predictions import sample_predictions
from labeltransfer.data.sample import LabelledSample, build_sample
from labeltransfer.data.split import draw_test_rows, freeze_split, read_split, split_sample
from labeltransfer.pipeline.information import (evaluate_information, information_bound, ladder_information,
                                                plot_information, reference_parameters)
from labeltransfer.pipeline.training import train_method
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}
LEVELS = [10, 30, 60]


class LinearSpectrumModel:
    """A spectrum model linear in its parameters (Teff, logg, A_K): ``model_flux`` and ``intrinsic_scatter_``
    as a fitted :class:`labeltransfer.methods.payne.Payne` has them."""

    parameter_names_ = ("teff", "logg", "a_k")
    label_names_ = ("teff", "logg")

    def __init__(self, wavelength, scatter=0.002):
        x = (wavelength - 678.0) / 342.0
        self.wavelength_ = wavelength
        self.slopes = np.column_stack([0.3 * x / 1000, 0.02 * np.exp(-0.5 * ((wavelength - 420.0) / 15.0) ** 2),
                                       -0.4 * (678.0 / wavelength) ** 1.5])
        self.intrinsic_scatter_ = np.full(len(wavelength), scatter)

    def model_flux(self, parameters):
        flux = 1.0 + (parameters - [5000.0, 3.0, 0.1]) @ self.slopes.T
        return flux, np.repeat(self.slopes[None], len(parameters), axis=0)


@pytest.fixture
def sample():
    """A small XP-library-like sample (the library's grid; S/N ~100; A_K of every star)."""
    built = build_sample(synthetic_stars(300, seed=3), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    built.provenance = {**built.provenance, "source": "xp_library"}
    return built


def test_the_reference_parameters_are_the_labels_and_the_extinction_in_the_model_s_order(sample):
    model = LinearSpectrumModel(sample.spectra.wavelength)
    parameters = reference_parameters(model, sample)
    np.testing.assert_array_equal(parameters, np.column_stack([sample.labels, sample.extinction_k]))
    model.parameter_names_ = ("teff", "vsini")
    with pytest.raises(KeyError, match="vsini"):
        reference_parameters(model, sample)


def test_a_noisier_level_holds_less_information_and_the_intrinsic_scatter_less_still(sample):
    stars = sample.subset(np.arange(40))
    found = ladder_information(LinearSpectrumModel(sample.spectra.wavelength), stars, LEVELS, xp=True)
    assert found["noise"] == ("xp_template+ladder", "xp_template+ladder+intrinsic_scatter")
    assert np.all(np.bincount(np.searchsorted(LEVELS, found["level"])) == 40)  # every star is brighter than 60
    fisher = found["fisher"].reshape(len(LEVELS), 40, 2, 3, 3)
    for lower, higher in zip(fisher[:-1], fisher[1:]):  # Loewner order: the difference is positive semi-definite
        assert np.linalg.eigvalsh(higher - lower).min() > -1e-9 * np.abs(higher).max()
    assert np.linalg.eigvalsh(fisher[:, :, 0] - fisher[:, :, 1]).min() > -1e-9 * np.abs(fisher).max()
    assert np.all(np.linalg.eigvalsh(fisher[:, :, 1]) > 0)


def test_an_archive_task_s_ladder_scales_each_star_s_own_covariance(sample):
    stars = sample.subset(np.arange(10))
    rng = np.random.default_rng(0)
    own = np.tril(rng.normal(0, 0.1, (10, 110, 110)), -1) + np.eye(110)  # each star's own coefficient covariance
    found = ladder_information(LinearSpectrumModel(sample.spectra.wavelength), stars, LEVELS, xp=True, own_factors=own)
    assert found["noise"][0] == "xp_own+ladder"
    fisher = found["fisher"].reshape(len(LEVELS), 10, 2, 3, 3)[:, :, 0]
    # the added noise is the star's own XP noise times (s / t)^2 - 1: the information goes as t^2
    np.testing.assert_allclose(fisher[0] * (LEVELS[2] / LEVELS[0]) ** 2, fisher[2], rtol=1e-9)


def test_spectra_measured_pixel_by_pixel_have_independent_pixels(sample):
    stars = sample.subset(np.arange(5))
    model = LinearSpectrumModel(sample.spectra.wavelength)
    found = ladder_information(model, stars, [30], xp=False)
    assert found["noise"][0] == "pixels+ladder"
    error = stars.spectra.flux_error.astype(float) * (stars.spectra.snr() / 30)[:, None]
    expected = np.einsum("pk,np,pl->nkl", model.slopes, 1 / error ** 2, model.slopes)
    np.testing.assert_allclose(found["fisher"][:, 0], expected, rtol=1e-9)
    with_scatter = np.einsum("pk,np,pl->nkl", model.slopes, 1 / (error ** 2 + 0.002 ** 2), model.slopes)
    np.testing.assert_allclose(found["fisher"][:, 1], with_scatter, rtol=1e-9)


def _ladder_predictions(stars, levels, error, seed):
    """A ladder prediction table: each star at each level it reaches, labelled with Gaussian errors
    of ``error`` (per label) around its reference."""
    rng = np.random.default_rng(seed)
    parts = []
    for level in levels:
        kept = np.flatnonzero(stars.spectra.snr() >= level)
        chosen = stars.subset(kept)
        predicted = chosen.labels + rng.standard_normal(chosen.labels.shape) * error
        parts.append(sample_predictions(chosen, predicted, np.ones_like(predicted), leading={"level": level}))
    return pd.concat(parts, ignore_index=True)


def test_the_bound_the_efficiency_and_the_figure_of_a_run(sample, tmp_path, monkeypatch):
    freeze_split(sample, split_sample(sample.apogee_id, {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=1),
                 tmp_path / "sample.npz", tmp_path / "split.csv")
    model = LinearSpectrumModel(sample.spectra.wavelength)
    monkeypatch.setattr(information, "load_trained", lambda *args: model)  # a fitted Payne, as far as the bound asks
    paths = {name: tmp_path / f"{name}.csv" for name in ("bound", "prior", "pixels", "efficiency")}
    information_bound(model_path=None, sample_path=tmp_path / "sample.npz", split_path=tmp_path / "split.csv",
                      method={"type": "payne", "feature_set": "flux"}, model_name="payne", colours=[], seed=1,
                      levels=LEVELS, max_stars=40, fisher_path=tmp_path / "fisher.npz", bound_path=paths["bound"],
                      prior_path=paths["prior"], pixels_path=paths["pixels"])
    bound = pd.read_csv(paths["bound"])
    assert set(bound["noise"]) == {"xp_template+ladder", "xp_template+ladder+intrinsic_scatter"}
    assert set(bound["parameter"]) == {"teff", "logg", "a_k"} and (bound["n_stars"] == 40).all()
    assert bound["prior"].str.fullmatch(r"gaussian_mixture_\d+").all() and (bound["model"] == "payne").all()
    teff = bound[bound["parameter"] == "teff"].set_index(["noise", "level"])
    assert (teff["population_bound"] < teff["crb_median"]).all()  # the prior adds information
    larger = np.maximum(teff["van_trees_whole"], teff["van_trees_by_component"])
    np.testing.assert_allclose(teff["population_bound"], larger)
    bare = teff.loc["xp_template+ladder", "population_bound"]
    assert bare.is_monotonic_decreasing  # brighter, tighter
    assert (bare < teff.loc["xp_template+ladder+intrinsic_scatter", "population_bound"]).all()
    prior = pd.read_csv(paths["prior"])
    assert prior["chosen"].sum() == 1 and prior["validation_log_density"].notna().all()
    pixels = pd.read_csv(paths["pixels"])
    assert list(pixels.columns[:1]) == ["wavelength"] and len(pixels) == 343
    assert {c for c in pixels.columns if c != "wavelength"} <= {f"{s}_{label}" for s in ("giants", "dwarfs")
                                                                 for label in LABELS}
    np.testing.assert_allclose(pixels.drop(columns="wavelength").sum(), 1.0)

    saved = LabelledSample.load(tmp_path / "sample.npz")
    stars = saved.subset(draw_test_rows(read_split(tmp_path / "split.csv", saved), 40, 1))
    error = np.array([60.0, 0.1])
    for name in ("knn", "mlp"):
        _ladder_predictions(stars, LEVELS, error, seed=len(name)).to_csv(tmp_path / f"{name}_ladder.csv", index=False)
    job = {"methods": ["knn", "mlp"], "feature_sets": {"knn": "flux", "mlp": "flux_colours_parallax"}}
    evaluate_information(**job, prediction_paths=[tmp_path / "knn_ladder.csv", tmp_path / "mlp_ladder.csv"],
                         fisher_path=tmp_path / "fisher.npz", labels=list(LABELS), seed=1,
                         table_path=paths["efficiency"])
    efficiency = pd.read_csv(paths["efficiency"])
    assert set(efficiency["method"]) == {"knn"}  # the MLP reads colours and parallax: not compared
    assert len(efficiency) == len(LEVELS) * len(LABELS) * 2 and (efficiency["n_stars"] == 40).all()
    assert (efficiency["efficiency_lo"] <= efficiency["efficiency"]).all()
    assert (efficiency["efficiency"] <= efficiency["efficiency_hi"]).all()
    np.testing.assert_allclose(efficiency["efficiency"], efficiency["population_bound"] / efficiency["rmse"])
    rmse = efficiency.groupby("label")["rmse"].median()
    np.testing.assert_allclose(rmse[list(LABELS)], error, rtol=0.35)  # 40 stars: the RMSE of 40 draws
    merged = efficiency.merge(bound, left_on=["noise", "level", "label"], right_on=["noise", "level", "parameter"])
    np.testing.assert_allclose(merged["population_bound_x"], merged["population_bound_y"])  # the same stars

    plot_information(table_path=paths["efficiency"], pixels_path=paths["pixels"], **job, labels=list(LABELS),
                     figure_path=tmp_path / "information.png")
    assert (tmp_path / "information.png").stat().st_size > 10_000


def test_the_bound_of_a_payne_trained_as_the_workflow_trains_it(sample, tmp_path):
    freeze_split(sample, split_sample(sample.apogee_id, {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=1),
                 tmp_path / "sample.npz", tmp_path / "split.csv")
    method = {"type": "payne", "feature_set": "flux",
              "params": {"hidden_sizes": [32, 32], "learning_rate": 5e-3, "batch_size": 64, "epochs": 40,
                         "patience": 10}}
    job = {"sample_path": tmp_path / "sample.npz", "split_path": tmp_path / "split.csv", "method": method,
           "colours": [], "seed": 1}
    train_method(**job, threads=1, gpus=0, model_path=tmp_path / "payne.npz", timing_path=tmp_path / "fit.json")
    information_bound(**job, model_path=tmp_path / "payne.npz", model_name="payne", levels=LEVELS, max_stars=40,
                      fisher_path=tmp_path / "fisher.npz", bound_path=tmp_path / "bound.csv",
                      prior_path=tmp_path / "prior.csv", pixels_path=tmp_path / "pixels.csv")
    bound = pd.read_csv(tmp_path / "bound.csv")
    assert set(bound["parameter"]) == {"teff", "logg", "a_k"}  # the Payne fits the extinction: a nuisance here
    assert (bound["population_bound"] > 0).all() and np.isfinite(bound["crb_median"]).all()
    for (noise, parameter), rows in bound.groupby(["noise", "parameter"]):  # the same 40 stars at every level
        assert rows.sort_values("level")["population_bound"].is_monotonic_decreasing, (noise, parameter)
    teff = bound[bound["parameter"] == "teff"].pivot(index="level", columns="noise", values="population_bound")
    # the scatter only adds noise (in this toy model it is small beside the XP noise: equal to rounding)
    assert (teff["xp_template+ladder"] <= teff["xp_template+ladder+intrinsic_scatter"] * (1 + 1e-9)).all()
