"""The data-driven Payne: its emulator, its per-star fit, its extinction, its extra labels, its guard against local
minima, its misfit flags, its influence and its model file, on spectra made from a known smooth model."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from labeltransfer.data.spectra import Spectra
from labeltransfer.methods import KINDS, METHOD_CLASSES, Payne
from labeltransfer.methods.emulator import (Emulator, _residuals_and_carried, maximum_likelihood_scatter,
                                           median_matched_scatter)
from labeltransfer.pipeline.information import reference_parameters

from conftest import assert_same_after_reload

NAMES = ("teff", "logg", "fe_h")
CENTRE, WIDTH = np.array([5000.0, 3.0, -0.3]), np.array([600.0, 1.0, 0.3])
N_PIXELS = 80
NOISE = 0.01
#: A small emulator trained briefly: enough to describe the toy spectra to a fraction of their noise.
SETTINGS = dict(hidden_sizes=[32, 32], learning_rate=5e-3, batch_size=128, epochs=150, patience=15, threads=1)


def _shape():
    rng = np.random.default_rng(3)
    return rng.normal(0, 0.15, (3, N_PIXELS)), rng.uniform(-1, 1, (3, N_PIXELS)), np.linspace(1.0, -0.6, N_PIXELS)


def true_flux(x, a_k):
    """The toy spectra: smooth and non-linear in the standardised labels ``x``, reddened by ``a_k``."""
    amplitude, phase, slope = _shape()
    return 1.0 + np.tanh(x[:, :, None] + phase[None]).__mul__(amplitude[None]).sum(axis=1) + a_k[:, None] * slope


def toy_stars(n, seed, noise=NOISE, scatter=0.0):
    """``n`` stars: spectra, labels, label errors and A_K (the labels' errors are 0.2 of their noise model's)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, (n, 3))
    a_k = rng.uniform(0.0, 0.5, n)
    flux = true_flux(x, a_k) + noise * rng.standard_normal((n, N_PIXELS)) + scatter * rng.standard_normal((n, N_PIXELS))
    spectra = Spectra(flux, np.full_like(flux, noise), np.linspace(400, 900, N_PIXELS), np.empty((n, 0)), ())
    labels = x * WIDTH + CENTRE
    return spectra, labels, np.full_like(labels, 1e-3) * WIDTH, a_k


@pytest.fixture(scope="module")
def trained():
    """A Payne trained on 1,500 toy stars (300 validation), with their extinction, fitted without a prior."""
    train, labels, errors, a_k = toy_stars(1500, 1)
    validation, v_labels, v_errors, v_a_k = toy_stars(300, 2)
    return Payne(**SETTINGS, prior="none").fit(train, labels, errors, NAMES, validation=(validation, v_labels, v_errors),
                                 extinction=(a_k, v_a_k))


def test_the_method_is_registered_as_a_spectrum_model_on_torch_that_may_hold_colours():
    assert METHOD_CLASSES["payne"] is Payne
    kind = KINDS["payne"]
    assert (kind.framework, kind.flux_only, kind.extinction, kind.spectrum_model) == ("torch", False, True, True)


def test_the_emulator_s_jacobian_is_autograd_s():
    torch.manual_seed(0)
    emulator = Emulator(4, [16, 8], np.ones(30), np.full(30, 0.1))
    x = torch.randn(5, 4)
    flux, jacobian = emulator.forward_with_jacobian(x)
    torch.testing.assert_close(flux, emulator(x))
    for i in range(5):
        expected = torch.autograd.functional.jacobian(emulator, x[i:i + 1])[0, :, 0, :]  # (pixels, parameters)
        torch.testing.assert_close(jacobian[i].T, expected, rtol=1e-4, atol=1e-6)


def test_the_emulator_s_jacobian_of_the_first_inputs_is_the_whole_one_s_first_columns():
    torch.manual_seed(0)
    emulator = Emulator(5, [16, 8], np.ones(30), np.full(30, 0.1))
    x = torch.randn(4, 5)
    flux, whole = emulator.forward_with_jacobian(x)
    flux_again, first = emulator.forward_with_jacobian(x, 3)
    torch.testing.assert_close(flux_again, flux)
    torch.testing.assert_close(first, whole[:, :3])


def test_the_labels_errors_reach_the_flux_through_the_jacobian():
    torch.manual_seed(0)
    emulator = Emulator(3, [8], np.ones(10), np.full(10, 0.1))
    x, error = torch.randn(4, 3), torch.tensor([[0.1, 0.0, 0.2]] * 4)
    _, jacobian = emulator.forward_with_jacobian(x)
    expected = ((jacobian * error[:, :, None]) ** 2).sum(dim=1)
    residual, carried = _residuals_and_carried(emulator, x, error, torch.ones(4, 10), 3)
    torch.testing.assert_close(carried, expected)
    torch.testing.assert_close(residual, 1 - emulator(x).detach())


def test_the_scatter_is_the_maximum_likelihood_one():
    rng = np.random.default_rng(0)
    variance = torch.as_tensor(rng.uniform(0.5, 2.0, (4000, 3)) ** 2)
    truth = torch.tensor([0.0, 0.5, 2.0])
    residual = torch.as_tensor(rng.standard_normal((4000, 3))) * torch.sqrt(variance + truth ** 2)
    found = maximum_likelihood_scatter(residual, variance, torch.ones_like(variance))
    grid = torch.linspace(0, 3, 3001)[:, None, None]
    cost = (residual ** 2 / (variance + grid ** 2) + torch.log(variance + grid ** 2)).sum(dim=1)
    torch.testing.assert_close(found, grid[cost.argmin(dim=0), 0, 0].double(), atol=2e-3, rtol=0)


def test_the_median_matched_scatter_is_the_typical_star_s_and_ignores_a_tail_of_bad_fits():
    rng = np.random.default_rng(11)
    noise = rng.uniform(0.5, 2.0, (4000, 6))
    truth = np.array([0.0, 0.3, 1.0, 2.0, 0.3, 0.3])
    residual = rng.standard_normal(noise.shape) * np.sqrt(noise ** 2 + truth ** 2)
    usable = np.ones_like(residual, dtype=bool)
    usable[:, 5] = False  # a pixel no star uses: no misfit
    residual[:400, 4] *= 10  # a tenth of the stars fitted badly on this pixel
    found = median_matched_scatter(residual, noise ** 2, usable)
    np.testing.assert_allclose(found[1:4], truth[1:4], atol=0.12)
    assert found[0] < 0.2 and found[5] == 0
    assert found[4] < 0.7  # the tail moves the median some ...
    mean_estimate = np.sqrt(max(np.mean(residual[:, 4] ** 2 - noise[:, 4] ** 2), 0))
    assert mean_estimate > 2.5  # ... and a mean estimate four times more


def test_the_fit_recovers_the_labels_and_the_extinction_to_their_noise(trained):
    test, labels, _, a_k = toy_stars(400, 5)
    fits = trained.fit_stars(test)
    assert trained.parameter_names_ == (*NAMES, "a_k")
    residual = fits["parameters"] - np.column_stack([labels, a_k])
    sigma = np.sqrt(np.diagonal(fits["covariance"], axis1=1, axis2=2))
    # the formal errors are right to within 40% (the emulator's own error is not in them) ...
    assert np.all(np.abs(np.std(residual / sigma, axis=0) - 1) < 0.4)
    # ... and small: a few percent of each parameter's range
    assert np.all(np.std(residual, axis=0) < 0.05 * np.array([*(3 * WIDTH), 0.5]))
    # the model describes the spectra to their noise: the median reduced chi-square is about one
    assert 0.8 < np.median(fits["reduced_chi2"]) < 1.3


def test_the_intrinsic_scatter_is_the_spectra_s_variance_beyond_their_errors():
    train, labels, errors, a_k = toy_stars(1500, 1, scatter=0.03)
    validation, v_labels, v_errors, v_a_k = toy_stars(300, 2, scatter=0.03)
    model = Payne(**SETTINGS).fit(train, labels, errors, NAMES, validation=(validation, v_labels, v_errors),
                                  extinction=(a_k, v_a_k))
    assert 0.02 < np.median(model.intrinsic_scatter_) < 0.04


def test_without_extinction_the_parameters_are_the_labels(trained):
    train, labels, errors, _ = toy_stars(600, 1)
    validation, v_labels, v_errors, _ = toy_stars(200, 2)
    model = Payne(**{**SETTINGS, "epochs": 5}).fit(train, labels, errors, NAMES,
                                                   validation=(validation, v_labels, v_errors))
    assert model.parameter_names_ == NAMES
    assert model.model_flux(labels[:3])[1].shape == (3, N_PIXELS, 3)


def test_masked_pixels_and_a_missing_band_are_left_out(trained):
    test, labels, _, a_k = toy_stars(200, 6)
    full = trained.fit_stars(test)["parameters"]
    error = test.flux_error.copy()
    error[:, : N_PIXELS // 2] = np.inf  # the "blue band" missing
    flux = test.flux.copy()
    flux[:, : N_PIXELS // 2] = np.nan
    half = trained.fit_stars(Spectra(flux, error, test.wavelength, test.aux, ()))
    assert np.all(half["n_pixels"] == N_PIXELS - N_PIXELS // 2)
    assert np.all(np.isfinite(half["parameters"]))
    # with half the pixels the labels are still found, less precisely
    teff_scatter = np.std(half["parameters"][:, 0] - labels[:, 0])
    assert np.std(full[:, 0] - labels[:, 0]) < teff_scatter < 0.1 * 3 * WIDTH[0]


def _wavy_stars(n, seed):
    """Spectra of one label whose likelihood has several minima: ``1 + 0.2 a sin(3 x) + 0.05 b x``."""
    rng = np.random.default_rng(seed)
    shape = np.random.default_rng(4).uniform(0.5, 1.0, (2, N_PIXELS))
    x = rng.uniform(-2, 2, (n, 1))
    flux = 1 + 0.2 * np.sin(3 * x) * shape[0] + 0.05 * x * shape[1] + NOISE * rng.standard_normal((n, N_PIXELS))
    spectra = Spectra(flux, np.full_like(flux, NOISE), np.linspace(400, 900, N_PIXELS), np.empty((n, 0)), ())
    return spectra, x * 1000 + 5000, np.full_like(x, 1.0)


def test_a_star_stuck_in_a_poor_minimum_is_fitted_again_from_the_restarts(monkeypatch):
    train, labels, errors = _wavy_stars(1500, 1)
    # the toy's wrong minima reach a reduced chi-square of 1.2-3: a star beyond 1.5 is fitted again
    model = Payne(**SETTINGS, restart_chi2=1.5, restarts=8, max_iter=30, prior="none").fit(train, labels, errors, ("teff",), validation=_wavy_stars(300, 2))
    test, truth, _ = _wavy_stars(200, 3)
    far = np.tile(model.upper_, (len(test), 1))  # every star started at the top of the range
    monkeypatch.setattr(model, "guess_", lambda flux, variance, extra: far)
    with_guard = model.fit_stars(test)
    monkeypatch.setattr(model, "anchors_", model.anchors_[:0])
    without = model.fit_stars(test)
    stuck = without["reduced_chi2"] > model.restart_chi2
    assert stuck.mean() > 0.2  # from the top, a good part of the stars stop in a wrong minimum ...
    np.testing.assert_array_equal(with_guard["restarted"], stuck)
    assert np.all(with_guard["chi2"] <= without["chi2"] + 1e-6)
    # ... and the restarts take nearly all of them out of it, most to the right label (the rest to a minimum
    # the noise cannot tell from the right one: below the threshold, as good a fit as the truth's)
    assert np.mean(with_guard["reduced_chi2"][stuck] < model.restart_chi2) > 0.95
    right = [np.mean(np.abs(fits["parameters"][:, 0] - truth[:, 0]) < 100) for fits in (with_guard, without)]
    assert right[0] > 0.85 and right[0] > right[1] + 0.5


@pytest.mark.parametrize("prior", ["gaussian", "mixture"])
def test_a_prior_pulls_a_noisy_star_toward_the_training_stars(trained, monkeypatch, prior):
    test, labels, _, _ = toy_stars(200, 8, noise=0.2)
    monkeypatch.setattr(trained, "prior", "none")
    free = trained.fit_stars(test)
    monkeypatch.setattr(trained, "prior", prior)
    monkeypatch.setattr(trained, "prior_components", 4)
    trained._fit_prior(trained._standard(np.column_stack(toy_stars(1500, 1)[1::2])))
    leaning = trained.fit_stars(test)
    penalty = [trained._prior_terms(torch.as_tensor(trained._standard(fits["parameters"])))[0].numpy()
               for fits in (free, leaning)]
    assert np.median(penalty[1]) < np.median(penalty[0])  # more probable under the prior ...
    assert np.all(np.median(np.diagonal(leaning["covariance"], axis1=1, axis2=2), axis=0)
                  < np.median(np.diagonal(free["covariance"], axis1=1, axis2=2), axis=0))  # ... and better known
    if prior == "gaussian":
        centre = trained.parameter_mean_
        assert np.all(np.abs(leaning["parameters"] - centre).mean(axis=0)
                      < np.abs(free["parameters"] - centre).mean(axis=0))


def test_the_misfit_s_shared_modes_enter_the_chi_square_as_woodbury_says(trained, monkeypatch):
    test, *_ = toy_stars(20, 12)
    rng = np.random.default_rng(0)
    monkeypatch.setattr(trained, "misfit_modes_", 0.01 * rng.standard_normal((N_PIXELS, 2)))
    fits = trained.fit_stars(test)
    model, _ = trained.model_flux(fits["parameters"])
    for i in range(3):
        covariance = np.diag(trained._variance(test)[i]) + trained.misfit_modes_ @ trained.misfit_modes_.T
        residual = test.flux[i] - model[i]
        assert fits["chi2"][i] == pytest.approx(residual @ np.linalg.solve(covariance, residual), rel=1e-3)


def test_a_spectrum_the_model_does_not_describe_is_flagged(trained):
    train, *_ = toy_stars(1000, 1)
    baseline = trained.misfit_baseline(train)
    test, labels, _, _ = toy_stars(200, 9)
    flux = test.flux.copy()
    flux[:100, 30:40] += 0.1  # an emission feature the model has never seen
    flagged = trained.misfit_flags(Spectra(flux, test.flux_error, test.wavelength, test.aux, ()), None, None, baseline)
    assert flagged[:100].mean() > 0.95 and flagged[100:].mean() < 0.05
    labels_again, sigma, flags = trained.predict_and_flag(Spectra(flux, test.flux_error, test.wavelength, test.aux, ()),
                                                         baseline)
    np.testing.assert_array_equal(flags, flagged)
    np.testing.assert_allclose(trained.predict(Spectra(flux, test.flux_error, test.wavelength, test.aux, ()))[0],
                               labels_again)


def test_the_influence_is_the_fit_s_response_to_the_flux(trained):
    test, *_ = toy_stars(5, 10)
    influence = trained.flux_influence(test)
    assert influence.shape == (5, N_PIXELS, 3)
    pixel, step = 20, NOISE  # one pixel moved by its error: the labels move by its influence
    moved = test.flux.copy()
    moved[:, pixel] += step
    change = (trained.fit_stars(Spectra(moved, test.flux_error, test.wavelength, test.aux, ()))["parameters"]
              - trained.fit_stars(test)["parameters"])[:, :3]
    np.testing.assert_allclose(change / WIDTH, influence[:, pixel, :] / WIDTH, rtol=0.1, atol=2e-4)


def test_the_model_file_gives_the_same_labels(trained, tmp_path):
    test, *_ = toy_stars(50, 11)
    loaded = assert_same_after_reload(trained, test, tmp_path / "payne.npz")
    assert loaded.parameter_names_ == trained.parameter_names_
    with np.load(tmp_path / "payne.npz", allow_pickle=False) as archive:
        assert "emulator/layers.0.weight" in archive.files


def test_pixels_masked_in_some_stars_or_in_all_are_left_out_of_the_training():
    train, labels, errors, a_k = toy_stars(600, 1)
    validation, v_labels, v_errors, v_a_k = toy_stars(200, 2)
    for spectra in (train, validation):
        spectra.flux_error[::3, 10:20] = np.inf  # masked in a third of the stars
        spectra.flux[::3, 10:20] = np.nan
        spectra.flux_error[:, 0] = np.inf  # masked in every star
        spectra.flux[:, 0] = np.nan
    model = Payne(**{**SETTINGS, "epochs": 20}).fit(train, labels, errors, NAMES,
                                                    validation=(validation, v_labels, v_errors),
                                                    extinction=(a_k, v_a_k))
    assert np.all(np.isfinite(model.history_["validation_loss"]))
    fits = model.fit_stars(validation)
    assert np.all(np.isfinite(fits["parameters"])) and np.all(fits["n_pixels"][1::3] == N_PIXELS - 1)



def coloured_stars(n, seed):
    """:func:`toy_stars` whose flux also moves with a colour (``bp_rp``, drawn apart from the labels) along teff's
    own pattern, so that a fit blind to it mistakes it for teff; the spectra's auxiliary features are ``g_k``
    (noise, unused) and ``bp_rp``. Returns the spectra, labels, label errors, A_K and the colours."""
    spectra, labels, errors, a_k = toy_stars(n, seed)
    rng = np.random.default_rng(seed + 100)
    colour = rng.normal(0.0, 1.0, n)
    flux = spectra.flux + 0.05 * colour[:, None] * _shape()[0][0]
    aux = np.column_stack([rng.normal(size=n), colour])
    return Spectra(flux, spectra.flux_error, spectra.wavelength, aux, ("g_k", "bp_rp")), labels, errors, a_k, colour


def _without_colour(spectra, rows):
    """``spectra`` with the colour of ``rows`` missing (NaN)."""
    aux = spectra.aux.copy()
    aux[rows, 1] = np.nan
    return Spectra(spectra.flux, spectra.flux_error, spectra.wavelength, aux, spectra.aux_names)


@pytest.fixture(scope="module")
def coloured():
    """Two Paynes trained on the coloured toy stars: one blind to the colour, one holding it as an extra label."""
    train, labels, errors, a_k, _ = coloured_stars(1500, 1)
    validation, v_labels, v_errors, v_a_k, _ = coloured_stars(300, 2)
    return {extra: Payne(**SETTINGS, extra_labels=extra).fit(train, labels, errors, NAMES,
                                                              validation=(validation, v_labels, v_errors),
                                                              extinction=(a_k, v_a_k))
            for extra in ((), ("bp_rp",))}


def test_an_extra_label_held_at_its_observed_value_recovers_the_labels_the_flux_alone_confuses(coloured):
    test, labels, _, _, colour = coloured_stars(400, 5)
    blind, held = coloured[()], coloured[("bp_rp",)]
    errors = [np.std(model.predict(test)[0] - labels, axis=0) / WIDTH for model in (blind, held)]
    assert errors[1][0] < 0.5 * errors[0][0]  # teff, which the colour imitates, several times better ...
    assert np.all(errors[1] < 0.03)  # ... and every label to a few percent of its range
    fits = held.fit_stars(test)
    np.testing.assert_allclose(fits["extra"][:, 0], colour)  # held at the observed colour, not fitted


def test_an_extra_label_is_no_parameter_and_no_label(coloured):
    test, *_ = coloured_stars(30, 6)
    held = coloured[("bp_rp",)]
    fits = held.fit_stars(test)
    assert held.parameter_names_ == (*NAMES, "a_k") and held.label_names_ == NAMES
    assert fits["parameters"].shape == (30, 4) and fits["covariance"].shape == (30, 4, 4)
    assert held.lower_.shape == held.upper_.shape == (4,) and held.anchors_.shape[1] == 4
    assert held.prior_means_.shape[1] == 4 and [a.shape for a in held.predict(test)] == [(30, 3), (30, 3)]
    flux, jacobian = held.model_flux(fits["parameters"], fits["extra"])
    assert flux.shape == (30, N_PIXELS) and jacobian.shape == (30, N_PIXELS, 4)
    assert held.flux_influence(test).shape == (30, N_PIXELS, 3)
    with pytest.raises(ValueError, match=r"extra labels \['bp_rp'\]: pass each star's as extra="):
        held.model_flux(fits["parameters"])


def test_a_star_missing_an_extra_label_holds_the_first_guess_s_regression_of_it(coloured):
    test, labels, _, _, colour = coloured_stars(200, 7)
    held = coloured[("bp_rp",)]
    fits = held.fit_stars(_without_colour(test, np.arange(50)))
    np.testing.assert_allclose(fits["extra"][50:, 0], colour[50:])  # the observed colours as before ...
    variance = held._variance(test)
    regressed = held.guess_(test.flux, variance, np.empty((200, 0)))[:, -1] * held.extra_scale_ + held.extra_mean_
    np.testing.assert_allclose(fits["extra"][:50, 0], regressed[:50])  # ... the missing ones regressed from the flux
    assert np.all(np.isfinite(fits["parameters"])) and np.all(np.isfinite(fits["covariance"]))
    # the regression knows the colour somewhat (the flux confuses it with teff): better than the training mean
    assert np.std(fits["extra"][:50, 0] - colour[:50]) < 0.95 * np.std(colour[:50] - held.extra_mean_)


def test_an_extra_label_outside_the_feature_set_is_refused_by_name():
    train, labels, errors, a_k, _ = coloured_stars(600, 1)
    validation, v_labels, v_errors, v_a_k, _ = coloured_stars(200, 2)
    with pytest.raises(KeyError, match=r"extra_labels \['g_h'\] are not among the spectra's auxiliary features"):
        Payne(**SETTINGS, extra_labels=["g_h"]).fit(train, labels, errors, NAMES, extinction=(a_k, v_a_k),
                                                    validation=(validation, v_labels, v_errors))


def test_the_model_file_keeps_the_extra_labels(coloured, tmp_path):
    test, *_ = coloured_stars(50, 11)
    loaded = assert_same_after_reload(coloured[("bp_rp",)], _without_colour(test, np.arange(5)), tmp_path / "payne.npz")
    assert loaded.extra_labels == ["bp_rp"] and loaded.parameter_names_ == (*NAMES, "a_k")
    np.testing.assert_array_equal(loaded.extra_scale_, coloured[("bp_rp",)].extra_scale_)


def test_a_model_file_written_before_the_extra_labels_loads_and_labels_as_before(trained, tmp_path):
    test, *_ = toy_stars(50, 11)
    trained.save(tmp_path / "payne.npz")
    with np.load(tmp_path / "payne.npz", allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    assert not {"extra_mean", "extra_scale"} & set(arrays)  # a model without extra labels keeps nothing new ...
    header = json.loads(str(arrays["header"]))
    del header["params"]["extra_labels"]  # ... and a file of before knew no such parameter
    np.savez(tmp_path / "old.npz", **{**arrays, "header": json.dumps(header)})
    old = Payne.load(tmp_path / "old.npz")
    assert old.extra_labels == []
    for a, b in zip(old.predict(test), trained.predict(test)):
        np.testing.assert_array_equal(a, b)


def test_the_information_bound_refuses_a_payne_with_extra_labels(coloured):
    sample = SimpleNamespace(label_names=NAMES, labels=np.tile(CENTRE, (3, 1)), extinction_k=np.zeros(3))
    assert reference_parameters(coloured[()], sample).shape == (3, 4)
    with pytest.raises(ValueError, match=r"flux alone, and this one also takes the extra labels \['bp_rp'\]"):
        reference_parameters(coloured[("bp_rp",)], sample)
