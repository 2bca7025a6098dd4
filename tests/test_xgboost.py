import numpy as np
import pytest

from conftest import assert_same_after_reload

from labeltransfer.methods import IncompatibleDataError, make_method
from labeltransfer.methods.calibration import calibrate_uncertainties
from labeltransfer.methods.xgb import XGBoostRegressor, sigma_from_quantiles
from labeltransfer.data.spectra import Spectra

NAMES = ("teff", "fe_h")


def _data(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.column_stack([rng.uniform(4000, 6000, n), rng.normal(-0.3, 0.3, n)])
    grid = np.linspace(0, 1, 30)
    flux = 1 + ((labels[:, :1] - 5000) / 1000) * grid + labels[:, 1:] * grid ** 2
    flux += 0.01 * rng.standard_normal(flux.shape)
    colour = (labels[:, 0] - 5000) / 1000 + 0.02 * rng.standard_normal(n)
    spectra = Spectra(flux, np.full_like(flux, 0.01), np.arange(30.0), colour[:, None], ("bp_rp",))
    return spectra, labels


@pytest.fixture(scope="module")
def fitted():
    spectra, labels = _data(1500, 0)
    val_spectra, val_labels = _data(300, 1)
    labels[:200, 1] = np.nan  # masked labels
    model = XGBoostRegressor(n_estimators=300, learning_rate=0.1, max_depth=4, early_stopping_rounds=20,
                             uncertainty_estimators=100)
    return model.fit(spectra, labels, np.full_like(labels, 0.01), NAMES,
                     validation=(val_spectra, val_labels, np.full_like(val_labels, 0.01)))


def test_predicts_labels_and_uncertainties(fitted):
    spectra, labels = _data(400, 2)
    predicted, sigma = fitted.predict(spectra)
    resid = predicted - labels
    assert np.median(np.abs(resid[:, 0])) < 60
    assert np.median(np.abs(resid[:, 1])) < 0.05
    assert np.all(sigma >= 0) and np.all(np.median(sigma, axis=0) > 0)
    # quantile widths track the real errors within a factor of two
    z = np.percentile(np.abs(resid / np.maximum(sigma, 1e-9)), 68.3, axis=0)
    assert np.all((z > 0.5) & (z < 2.0)), z


def test_quantile_sigmas_are_calibrated_on_the_validation_split(fitted):
    val_spectra, val_labels = _data(300, 1)
    predicted, formal = fitted.predict(val_spectra, calibrate=False)
    np.testing.assert_allclose(fitted.uncertainty_calibration_,
                               calibrate_uncertainties(predicted, formal, val_labels, NAMES, "test",
                                                       snr=val_spectra.snr()))
    assert fitted.uncertainty_calibration_.shape == (5, 2) and np.all(fitted.uncertainty_calibration_[0] != 1.0)


def test_early_stopping_used_the_validation_set(fitted):
    assert all(b.best_iteration < 300 for b in fitted.boosters_)


def test_save_load_gives_identical_predictions(fitted, tmp_path):
    spectra, _ = _data(100, 3)
    loaded = assert_same_after_reload(fitted, spectra, tmp_path / "xgb.npz")
    no_colour = spectra.select_aux([])
    with pytest.raises(IncompatibleDataError, match="auxiliary features"):
        loaded.predict(no_colour)


def test_needs_a_validation_set():
    spectra, labels = _data(50, 4)
    with pytest.raises(ValueError, match="validation"):
        XGBoostRegressor().fit(spectra, labels, np.ones_like(labels), NAMES)


def test_unknown_method_and_bad_parameters_are_named():
    with pytest.raises(KeyError, match="unknown method type 'gaussian_process'"):
        make_method("gaussian_process", {})
    with pytest.raises(TypeError, match="bad parameters for method 'xgboost'"):
        make_method("xgboost", {"n_trees": 3})


def test_nan_flux_in_unmasked_pixels_is_refused():
    spectra, labels = _data(50, 5)
    spectra.flux[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"1 stars have non-finite flux in unmasked pixels \(1 pixels: 4 nm\)"):
        XGBoostRegressor().fit(spectra, labels, np.ones_like(labels), NAMES, validation=(spectra, labels, labels))


def test_crossed_quantiles_give_a_positive_sigma():
    quantiles = np.array([[1.0, 3.0], [2.5, 1.5]])
    np.testing.assert_array_equal(sigma_from_quantiles(quantiles), [1.0, 0.5])
