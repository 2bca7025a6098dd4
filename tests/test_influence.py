"""How far each pixel moves each label (``flux_influence``): derivatives checked against finite
differences of the predictions, SHAP contributions against the pixels the labels depend on."""

import numpy as np
import pytest

from labeltransfer.methods import MLP, NearestNeighbours, TheCannon, make_method
from labeltransfer.data.spectra import Spectra

NAMES = ("teff", "fe_h")


def _data(n, seed, n_pixels=40, noise=0.01):
    """Teff in the slope of the first half of the pixels, [Fe/H] in a dip of pixels 30-34 only."""
    rng = np.random.default_rng(seed)
    labels = np.column_stack([rng.uniform(4000, 6000, n), rng.normal(-0.3, 0.3, n)])
    grid = np.linspace(0, 1, n_pixels)
    dip = np.zeros(n_pixels)
    dip[30:35] = 0.3
    flux = 1 + ((labels[:, :1] - 5000) / 1000) * np.where(grid < 0.5, grid, 0.0) + labels[:, 1:] * dip
    flux += noise * rng.standard_normal(flux.shape)
    colour = (labels[:, 0] - 5000) / 1000 + 0.02 * rng.standard_normal(n)
    return Spectra(flux, np.full_like(flux, 0.01), np.arange(float(n_pixels)), colour[:, None], ("bp_rp",)), labels


def _finite_difference(model, spectra, pixel, step=2.0):
    """(labels at flux + step x error in ``pixel`` - labels at flux - ...) / (2 step): label units
    per flux error, central."""
    shifted = []
    for sign in (1, -1):
        flux = spectra.flux.copy()
        flux[:, pixel] += sign * step * spectra.flux_error[:, pixel]
        shifted.append(model.predict(Spectra(flux, spectra.flux_error, spectra.wavelength, spectra.aux,
                                             spectra.aux_names))[0])
    return (shifted[0] - shifted[1]) / (2 * step)


@pytest.fixture(scope="module")
def training():
    spectra, labels = _data(1500, 0)
    return spectra, labels, np.full_like(labels, 0.01), _data(300, 1)


def test_the_cannon_influence_is_the_derivative_of_its_labels(training):
    spectra, labels, err, (val_spectra, val_labels) = training
    model = TheCannon(order=2, flux_transform="asinh").fit(
        spectra, labels, err, NAMES, validation=(val_spectra, val_labels, err[:300]))
    stars, _ = _data(20, 2, noise=0.0)  # the linearised response is exact where the model fits
    influence = model.flux_influence(stars)
    assert model.influence_kind == "gradient x flux error" and influence.shape == (20, 40, 2)
    for pixel in (5, 32):
        assert np.allclose(influence[:, pixel], _finite_difference(model, stars, pixel), rtol=0.02,
                           atol=1e-3 * np.abs(influence).max(axis=(0, 1)))
    share = np.abs(influence).sum(axis=0) / np.abs(influence).sum(axis=(0, 1))
    assert share[30:35, 1].sum() > 0.8  # [Fe/H] is read where it is


def test_the_mlp_influence_is_the_derivative_of_its_labels(training):
    spectra, labels, err, validation = training
    model = MLP(hidden_sizes=[32, 32], epochs=15, batch_size=64, learning_rate=3e-3, n_members=2,
                flux_components=10).fit(spectra, labels, err, NAMES, validation=(*validation, err[:300]))
    stars, _ = _data(20, 2)
    influence = model.flux_influence(stars)
    for pixel in (5, 32):
        assert np.allclose(influence[:, pixel], _finite_difference(model, stars, pixel), rtol=0.02,
                           atol=1e-3 * np.abs(influence).max(axis=(0, 1)))


def test_xgboost_shap_contributions_fall_on_the_pixels_the_label_depends_on(training):
    spectra, labels, err, validation = training
    model = make_method("xgboost", {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.1,
                                    "early_stopping_rounds": 20, "uncertainty_estimators": 20})
    model.fit(spectra, labels, err, NAMES, validation=(*validation, err[:300]))
    stars, _ = _data(50, 2)
    influence = model.flux_influence(stars)
    assert model.influence_kind == "SHAP contribution" and influence.shape == (50, 40, 2)
    share = np.abs(influence[:, :, 1]).sum(axis=0) / np.abs(influence[:, :, 1]).sum()
    assert share[30:35].sum() > 0.8
    assert share[20:30].sum() < 0.05  # pixels that hold neither label


def test_the_nearest_neighbours_give_no_influence(training):
    spectra, labels, err, _ = training
    model = NearestNeighbours(n_neighbours=5, n_components=5).fit(spectra, labels, err, NAMES)
    assert model.flux_influence(spectra) is None and model.influence_kind is None


def test_pixel_shares_and_their_overlaps():
    from labeltransfer.diagnostics.influence import influence_summary, pixel_shares

    influence = np.zeros((4, 6, 2))
    influence[:, :3, 0] = [1.0, 2.0, 1.0]  # teff read from pixels 0-2
    influence[:, 3:, 1] = [-1.0, 1.0, 2.0]  # fe_h from pixels 3-5, signs do not matter
    influence[3] = np.nan  # a failed fit is left out
    masks = {"giants": np.array([True, True, False, True]), "dwarfs": np.array([False, False, True, False])}
    curves = pixel_shares(influence, np.arange(6.0), masks, NAMES)
    assert np.allclose(curves["giants_teff"], [0.25, 0.5, 0.25, 0, 0, 0])
    assert np.allclose(curves["dwarfs_fe_h"], [0, 0, 0, 0.25, 0.25, 0.5])
    information = curves.copy()
    information["giants_fe_h"] = [0, 0, 0, 0, 0.5, 0.5]
    summary = influence_summary({"m": curves}, {"m": "gradient x flux error"}, information, NAMES).set_index(
        ["method", "subset", "label"])
    assert summary.loc[("m", "giants", "teff"), "overlap_information"] == pytest.approx(1.0)
    assert summary.loc[("m", "giants", "fe_h"), "overlap_information"] == pytest.approx(0.75)
    assert summary.loc[("m", "giants", "teff"), "overlap_fe_h"] == pytest.approx(0.0)  # no pixel in common
    assert summary.loc[("m", "dwarfs", "fe_h"), "peak_wavelength"] == 5.0
    assert summary.loc[("information", "giants", "fe_h"), "kind"] == "spectrum-model information"
