import inspect
import re

import numpy as np
import pytest
import torch

from labeltransfer.methods.calibration import calibrate_uncertainties
from labeltransfer.methods import CNN, MLP, IncompatibleDataError
from labeltransfer.methods.networks import label_nll, whitened_basis
from labeltransfer.methods.neural_base import TRAINING_SETTINGS, NeuralMethod
from labeltransfer.evaluation.metrics import robust_scatter
from labeltransfer.data.spectra import Spectra

NAMES = ("teff", "fe_h")
FAST = dict(epochs=40, batch_size=64, learning_rate=3e-3, patience=8, n_members=2)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.column_stack([rng.uniform(4000, 6000, n), rng.normal(-0.3, 0.3, n)])
    grid = np.linspace(0, 1, 32)
    flux = 1 + ((labels[:, :1] - 5000) / 1000) * grid + labels[:, 1:] * np.sin(6 * grid)
    flux += 0.01 * rng.standard_normal(flux.shape)
    colour = (labels[:, 0] - 5000) / 1000 + 0.02 * rng.standard_normal(n)
    parallax = np.where(rng.random(n) < 0.5, rng.uniform(0.1, 2, n), np.nan)
    spectra = Spectra(flux, np.full_like(flux, 0.01), np.arange(32.0), np.column_stack([colour, parallax]),
                      ("bp_rp", "parallax"))
    return spectra, labels, np.column_stack([np.full(n, 10.0), np.full(n, 0.01)])


def _noisy_and_clean(n, seed):
    """Like ``_data`` without colours, every other star 20 times noisier (and its errors say so)."""
    spectra, labels, err = _data(n, seed)
    rng = np.random.default_rng(seed + 100)
    flux_error = np.where(np.arange(n) % 2, 0.2, 0.01)[:, None] * np.ones_like(spectra.flux)
    flux = spectra.flux + flux_error * rng.standard_normal(spectra.flux.shape)
    return Spectra(flux, flux_error, spectra.wavelength, np.zeros((n, 0)), ()), labels, err


def _fit(cls, **kwargs):
    spectra, labels, err = _data(800, 0)
    val = _data(200, 1)
    return cls(**{**FAST, **kwargs}).fit(spectra, labels, err, NAMES, validation=val)


@pytest.fixture(scope="module")
def mlp():
    return _fit(MLP, hidden_sizes=[64, 64])


def test_mlp_recovers_known_labels_with_calibrated_uncertainties(mlp):
    spectra, labels, _ = _data(400, 2)
    predicted, sigma = mlp.predict(spectra)
    resid = predicted - labels
    assert np.median(np.abs(resid[:, 0])) < 60
    assert np.median(np.abs(resid[:, 1])) < 0.05
    z = np.percentile(np.abs(resid / sigma), 68.3, axis=0)
    assert np.all((z > 0.4) & (z < 2.0)), z
    assert len(mlp.history_) == 2 and all(len(h["validation"]) > 3 for h in mlp.history_)


def test_uncertainties_are_calibrated_on_the_validation_stars(mlp):
    spectra, labels, _ = _data(200, 1)  # the validation set of the fixture
    predicted, formal = mlp.predict(spectra, calibrate=False)
    np.testing.assert_allclose(mlp.uncertainty_calibration_,
                               calibrate_uncertainties(predicted, formal, labels, mlp.label_names_, "test",
                                                       snr=spectra.snr()))
    assert np.all(mlp.uncertainty_calibration_[0] != 1.0)


def test_sub_ensemble_keeps_the_first_network_and_recalibrates(mlp):
    spectra, labels, _ = _data(200, 1)
    single = mlp.sub_ensemble(1, (spectra, labels))
    assert single.n_members == 1 and len(single.members_) == 1 and len(mlp.members_) == 2
    np.testing.assert_array_equal(single.members_[0]["head.out.weight"], mlp.members_[0]["head.out.weight"])
    predicted, formal = single.predict(spectra, calibrate=False)
    assert not np.allclose(predicted, mlp.predict(spectra)[0])
    np.testing.assert_allclose(single.uncertainty_calibration_,
                               calibrate_uncertainties(predicted, formal, labels, mlp.label_names_, "test",
                                                       snr=spectra.snr()))
    assert not np.allclose(single.uncertainty_calibration_, mlp.uncertainty_calibration_)
    with pytest.raises(ValueError, match="n_members must be 1..2"):
        mlp.sub_ensemble(3, (spectra, labels))


def test_the_networks_built_for_prediction_follow_the_members(mlp):
    spectra, _, _ = _data(100, 3)
    means = mlp._member_outputs(spectra)[0]
    assert mlp._member_networks(torch.device("cpu")) is mlp._member_networks(torch.device("cpu"))  # built once
    members = mlp.members_
    try:
        mlp.members_ = members[1:]  # other members: rebuilt
        np.testing.assert_array_equal(mlp._member_outputs(spectra)[0], means[1:])
    finally:
        mlp.members_ = members
    np.testing.assert_array_equal(mlp._member_outputs(spectra)[0], means)


def test_cnn_fits_and_predicts():
    cnn = _fit(CNN, filters=[4, 8], dense_sizes=[32], n_members=1)
    spectra, labels, _ = _data(200, 3)
    predicted, sigma = cnn.predict(spectra)
    assert predicted.shape == (200, 2) and np.all(sigma > 0)
    assert np.median(np.abs(predicted[:, 0] - labels[:, 0])) < 150


def test_save_load_round_trip_gives_identical_predictions(mlp, tmp_path):
    spectra, _, _ = _data(100, 4)
    mlp.save(tmp_path / "mlp.npz")
    loaded = MLP.load(tmp_path / "mlp.npz")
    for a, b in zip(loaded.predict(spectra), mlp.predict(spectra)):
        np.testing.assert_array_equal(a, b)
    assert loaded.history_ == [{k: list(v) for k, v in h.items()} for h in mlp.history_]


def test_whitened_basis_gives_uncorrelated_coordinates_of_unit_variance():
    spectra, _, _ = _data(800, 0)
    standard = torch.as_tensor((spectra.flux - spectra.flux.mean(axis=0)) / spectra.flux.std(axis=0),
                               dtype=torch.float32)
    basis = whitened_basis(standard, 5)
    assert basis.shape == (32, 5) and basis.dtype == np.float32
    np.testing.assert_allclose(np.cov((standard.numpy() @ basis).T), np.eye(5), atol=1e-4)


def test_more_components_than_the_spectra_span_are_refused():
    rng = np.random.default_rng(0)
    flux = torch.as_tensor(rng.standard_normal((100, 2)) @ rng.standard_normal((2, 32)), dtype=torch.float32)
    assert whitened_basis(flux, 2).shape == (32, 2)
    with pytest.raises(ValueError, match="flux_components=3, but the 100 training spectra span 2 components"):
        whitened_basis(flux, 3)


def test_mlp_on_whitened_components_recovers_labels_and_round_trips(tmp_path):
    model = _fit(MLP, flux_components=6, hidden_sizes=[64, 64], input_noise=0.5)
    assert model.flux_basis_.shape == (32, 6)
    assert model.members_[0]["head.body.0.weight"].shape == (64, 6 + 2 + 1)  # components, aux, parallax flag
    spectra, labels, _ = _data(400, 2)
    predicted, _ = model.predict(spectra)
    assert np.median(np.abs(predicted[:, 0] - labels[:, 0])) < 60
    assert np.median(np.abs(predicted[:, 1] - labels[:, 1])) < 0.05
    model.save(tmp_path / "mlp.npz")
    for a, b in zip(MLP.load(tmp_path / "mlp.npz").predict(spectra), model.predict(spectra)):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_from_another_feature_set_is_refused(mlp):
    spectra, _, _ = _data(10, 5)
    with pytest.raises(IncompatibleDataError, match=r"auxiliary features \['bp_rp', 'parallax'\]"):
        mlp.predict(spectra.select_aux(["bp_rp"]))


def test_same_seed_same_predictions_with_and_without_input_noise():
    spectra, _, _ = _data(50, 6)
    fits = {noise: [_fit(MLP, hidden_sizes=[16], n_members=1, epochs=5, input_noise=noise).predict(spectra)[0]
                    for _ in range(2)] for noise in (0.0, 1.0)}
    for a, b in fits.values():
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(fits[0.0][0], fits[1.0][0])  # the augmentation is applied


def test_masked_labels_do_not_contribute():
    mean, log_var = torch.zeros(4, 2), torch.zeros(4, 2)
    target = torch.tensor([[1.0, 2.0], [0.5, 9.0], [0.0, 0.0], [1.0, -7.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    changed = target.clone()
    changed[mask == 0] = 1e6
    err = torch.zeros(4, 2)
    for dof in (None, 5.0):
        assert label_nll(mean, log_var, target, err, mask, dof=dof) == label_nll(mean, log_var, changed, err, mask,
                                                                                  dof=dof)

    spectra, _, _ = _data(50, 7)
    predictions = []
    for garbage in (0.0, 1e3):
        spectra_t, labels, err_t = _data(800, 0)
        labels[:300, 1] = np.nan
        err_t[:300, 1] = garbage  # the error of a missing label must not matter either
        model = MLP(**{**FAST, "hidden_sizes": [16], "n_members": 1, "epochs": 5}).fit(
            spectra_t, labels, err_t, NAMES, validation=_data(200, 1))
        predictions.append(model.predict(spectra)[0])
    np.testing.assert_array_equal(*predictions)


def test_unexpected_nan_in_a_feature_is_named(mlp):
    spectra, _, _ = _data(20, 8)
    spectra.aux[:3, 0] = np.nan
    with pytest.raises(ValueError, match=r"bp_rp \(3 stars\)"):
        mlp.predict(spectra)


def test_gaussian_nll_adds_reference_error_to_predicted_variance():
    mean, log_var = torch.zeros(1, 1), torch.log(torch.tensor([[3.0]]))
    target, err, mask = torch.tensor([[2.0]]), torch.tensor([[1.0]]), torch.ones(1, 1)
    expected = 0.5 * (4.0 / 4.0 + np.log(4.0))
    assert label_nll(mean, log_var, target, err, mask).item() == pytest.approx(expected)
    student = 0.5 * np.log(4.0) + 0.5 * 6.0 * np.log1p(4.0 / (5.0 * 4.0))
    assert label_nll(mean, log_var, target, err, mask, dof=5.0).item() == pytest.approx(student)


def test_student_t_likelihood_pulls_less_on_far_outliers():
    mean, log_var = torch.zeros(1, 1, requires_grad=True), torch.zeros(1, 1)
    err, mask = torch.zeros(1, 1), torch.ones(1, 1)
    pulls = {}
    for dof in (None, 5.0):
        for offset in (1.0, 20.0):
            mean.grad = None
            label_nll(mean, log_var, torch.tensor([[offset]]), err, mask, dof=dof).backward()
            pulls[dof, offset] = abs(mean.grad.item())
    assert pulls[None, 20.0] == pytest.approx(20 * pulls[None, 1.0])  # Gaussian: the pull grows with the offset
    assert pulls[5.0, 20.0] < pulls[5.0, 1.0]  # Student-t: a far outlier pulls less than a near star


@pytest.mark.parametrize("cls", [MLP, CNN])
def test_every_parameter_is_explicit_and_documented_once(cls):
    """scikit-learn's rule: each parameter a keyword of the class's own ``__init__`` (``help`` shows
    them); the shared training settings with one default for every network, documented on NeuralMethod."""
    signature = inspect.signature(cls.__init__).parameters
    own = [name for name in cls.param_names() if name not in TRAINING_SETTINGS]
    assert cls.param_names()[len(own):] == list(TRAINING_SETTINGS)
    assert {name: signature[name].default for name in TRAINING_SETTINGS} == {
        name: inspect.signature(MLP.__init__).parameters[name].default for name in TRAINING_SETTINGS}
    for names, docstring in ((own, cls.__doc__), (TRAINING_SETTINGS, NeuralMethod.__doc__)):
        documented = set(re.findall(r"^    (\w+(?:, \w+)*)(?: :|$)", docstring, flags=re.M))
        assert set(names) <= {name for line in documented for name in line.split(", ")}, (cls, names)


@pytest.mark.parametrize("setting, value, message", [
    ("likelihood", "laplace", "likelihood must be one of gaussian, student_t, got 'laplace'"),
    ("schedule", "step", "schedule must be one of plateau, cosine, got 'step'"),
    ("monitor", "mse", "monitor must be one of loss, scatter, got 'mse'")])
def test_an_unknown_training_setting_is_refused(setting, value, message):
    with pytest.raises(ValueError, match=message):
        _fit(MLP, hidden_sizes=[8], n_members=1, epochs=1, **{setting: value})


def test_the_cosine_schedule_halves_the_learning_rate_halfway_and_ends_at_zero(caplog):
    # 800 training stars in batches of 64: 13 steps per epoch, 52 in 4 epochs
    with caplog.at_level("INFO", logger="labeltransfer.methods.neural_base"):
        _fit(MLP, hidden_sizes=[8], n_members=1, epochs=4, patience=10, schedule="cosine")
    rates = [float(line.rsplit("lr ", 1)[1]) for line in caplog.messages if " lr " in line]
    assert rates[1] == pytest.approx(FAST["learning_rate"] / 2, rel=0.01)
    assert rates[3] == pytest.approx(0.0, abs=1e-9)
    assert rates[0] > rates[1] > rates[2] > rates[3]


@pytest.mark.parametrize("monitor", ["loss", "scatter"])
def test_the_epoch_kept_is_the_best_of_the_monitored_quantity(monitor):
    model = _fit(MLP, hidden_sizes=[16], n_members=1, epochs=40, patience=40, monitor=monitor)
    history = model.history_[0]
    validation = _data(200, 1)
    predicted, _ = model.predict(validation[0])
    scatter = np.mean([robust_scatter(r) for r in ((predicted - validation[1]) / model.label_std_).T])
    kept = int(np.argmin(history["validation" if monitor == "loss" else "validation_scatter"]))
    assert scatter == pytest.approx(history["validation_scatter"][kept], rel=1e-4)
    # the two choices differ on this problem, so the test tells them apart
    assert np.argmin(history["validation"]) != np.argmin(history["validation_scatter"])


def test_the_weight_average_is_the_network_kept():
    # with a decay of almost one the average stays at the weights after the first step
    # (Adam moves each weight by at most the learning rate), however long the training goes on
    averaged = _fit(MLP, hidden_sizes=[16], n_members=1, epochs=4, ema_decay=1 - 1e-9)
    trained = _fit(MLP, hidden_sizes=[16], n_members=1, epochs=4)
    torch.manual_seed(averaged.random_state)
    initial = averaged._network().state_dict()

    def largest_move(model):
        return max(np.abs(model.members_[0][name] - weights.numpy()).max() for name, weights in initial.items())

    assert largest_move(averaged) <= 1.001 * FAST["learning_rate"]
    assert largest_move(trained) > 5 * FAST["learning_rate"]


def test_snr_input_lets_the_uncertainty_follow_the_noise():
    ratios, calibrated_ratios = {}, {}
    for snr_input in (False, True):
        model = MLP(**{**FAST, "hidden_sizes": [32], "n_members": 1, "snr_input": snr_input})
        model.fit(*_noisy_and_clean(800, 0), NAMES, validation=_noisy_and_clean(200, 1))
        for calibrate, found in ((False, ratios), (True, calibrated_ratios)):
            _, sigma = model.predict(_noisy_and_clean(400, 2)[0], calibrate=calibrate)
            found[snr_input] = np.median(sigma[1::2], axis=0) / np.median(sigma[::2], axis=0)
    assert np.all(ratios[True] > 3), ratios  # the network's own sigma: noisy stars get larger error bars ...
    assert np.all(ratios[False] < 2), ratios  # ... which the normalised spectrum alone does not tell
    # the calibration, which knows each star's S/N, widens the noisy stars' error bars without the input too
    assert np.all(calibrated_ratios[False] > 2), calibrated_ratios


def test_an_averaging_window_longer_than_the_training_is_warned_about(caplog):
    with caplog.at_level("WARNING", logger="labeltransfer.methods.neural_base"):
        _fit(MLP, hidden_sizes=[8], n_members=1, epochs=2, ema_decay=0.999)
    assert "the first of the 26 training steps (2 epochs of 800 stars in batches of 64) still weigh 97%" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="labeltransfer.methods.neural_base"):
        _fit(MLP, hidden_sizes=[8], n_members=1, epochs=2, ema_decay=0.5)
    assert "ema_decay" not in caplog.text


def test_a_checkpoint_without_a_normalisation_array_is_refused_naming_it(mlp, tmp_path):
    mlp.save(tmp_path / "mlp.npz")
    with np.load(tmp_path / "mlp.npz") as archive:
        arrays = {key: archive[key] for key in archive.files if key not in ("snr_mean", "snr_std")}
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(IncompatibleDataError, match="checkpoint lacks snr_mean, snr_std: written by another version"):
        MLP.load(tmp_path / "old.npz")


def test_early_stopping_keeps_the_best_state_and_stops_after_patience():
    from labeltransfer.methods.training import EarlyStopping

    network = torch.nn.Linear(1, 1)
    stopping = EarlyStopping(patience=2)
    with torch.no_grad():
        network.weight.fill_(1.0)
    assert not stopping.update(0.5, network)
    with torch.no_grad():
        network.weight.fill_(2.0)
    assert not stopping.update(0.7, network)  # worse once: go on
    assert stopping.update(0.6, network)  # worse twice: stop
    assert stopping.best == 0.5 and stopping.best_state["weight"].item() == 1.0


def test_a_feature_missing_only_in_validation_is_flagged_and_one_missing_nowhere_is_refused():
    spectra, labels, err = _data(300, 4)
    val = _data(100, 5)
    val[0].aux[:3, 0] = np.nan  # bp_rp: complete in training, missing for three validation stars
    model = MLP(**{**FAST, "hidden_sizes": [8], "epochs": 2, "n_members": 1}).fit(spectra, labels, err, NAMES,
                                                                                   validation=val)
    assert model.aux_flagged_.tolist() == [True, True]
    assert np.isfinite(model.predict(val[0])[0]).all()
    spectra_all, labels_all, err_all = _data(300, 6)
    rows = np.flatnonzero(np.isfinite(spectra_all.aux[:, 1]))  # stars with a parallax only
    no_gaps = (spectra_all.subset(rows), labels_all[rows], err_all[rows])
    model = MLP(**{**FAST, "hidden_sizes": [8], "epochs": 2, "n_members": 1}).fit(*no_gaps, NAMES,
                                                                                   validation=no_gaps)
    with pytest.raises(ValueError, match=r"NaN in auxiliary features that had none in training or validation: "
                                         r"parallax \(\d+ stars\)"):
        model.predict(spectra)
