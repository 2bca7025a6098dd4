import copy

import numpy as np
import pytest
from scipy.optimize import least_squares

from labeltransfer.methods import IncompatibleDataError, NotFittedError, TheCannon
from labeltransfer.methods.vectorizer import PolynomialVectorizer
from labeltransfer.methods.calibration import no_calibration
from labeltransfer.methods.cannon_solver import FirstGuess, Statistics
from labeltransfer.data.spectra import Spectra

NAMES = ("teff", "logg", "fe_h")
OFFSET = np.array([5000.0, 3.0, -0.3])
SCALE = np.array([600.0, 1.0, 0.3])
N_PIXELS = 120
NOISE = 0.01


def _model():
    rng = np.random.default_rng(7)
    vec = PolynomialVectorizer(3, 2)
    theta = rng.normal(0, 0.05, (N_PIXELS, vec.n_terms))
    theta[:, 0] = 1.0
    theta[:, 1:4] = rng.normal(0, 0.3, (N_PIXELS, 3))
    return vec, theta


def _stars(n, seed):
    """Labels and noisy spectra from the known quadratic model (in standardised labels)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, (n, 3))
    vec, theta = _model()
    flux = vec(x) @ theta.T + NOISE * rng.standard_normal((n, N_PIXELS))
    spectra = Spectra(flux, np.full_like(flux, NOISE), np.arange(N_PIXELS, dtype=float), np.empty((n, 0)), ())
    return spectra, x * SCALE + OFFSET


@pytest.fixture(scope="module")
def fitted():
    spectra, labels = _stars(1500, seed=1)
    model = TheCannon(order=2, guess_disagreement=False).fit(
        spectra, labels, np.full_like(labels, 0.01), NAMES)
    return model


def test_vectorizer_terms_and_jacobian():
    vec = PolynomialVectorizer(2, 2)
    x = np.array([[2.0, 3.0]])
    assert vec.n_terms == 6
    assert sorted(vec(x)[0].tolist()) == sorted([1, 2, 3, 4, 6, 9])
    eps = 1e-6
    numeric = np.stack([(vec(x + eps * np.eye(2)[k]) - vec(x - eps * np.eye(2)[k]))[0] / (2 * eps)
                        for k in range(2)], axis=1)
    assert np.allclose(vec.jacobian(x)[0], numeric, atol=1e-6)
    assert PolynomialVectorizer(6, 3).n_terms == 84


def test_recovers_known_labels_within_noise(fitted):
    spectra, labels = _stars(400, seed=2)
    predicted, sigma = fitted.predict(spectra)
    z = (predicted - labels) / sigma
    # the noise of 120 pixels at S/N 100 constrains each label to a small fraction of its range
    assert np.all(np.median(np.abs(predicted - labels), axis=0) < 0.02 * SCALE)
    assert np.all(np.abs(np.median(z, axis=0)) < 0.3)
    assert np.all((np.percentile(np.abs(z), 68.3, axis=0) > 0.7) & (np.percentile(np.abs(z), 68.3, axis=0) < 1.4))
    assert np.all(fitted.scatter_ < 3 * NOISE)


def test_sigma_adds_the_disagreement_with_the_first_guess(fitted):
    """With ``guess_disagreement`` each star's sigma is its formal sigma and its first guess's
    distance from the fitted labels in quadrature: a star whose guess lies far from the fit gets
    a wider sigma (no calibration in this model: the sigmas are compared as they come)."""
    spectra, _ = _stars(200, seed=5)
    labels, formal = fitted.predict(spectra)
    with_guess = copy.deepcopy(fitted).set_params(guess_disagreement=True)
    same_labels, sigma = with_guess.predict(spectra)
    np.testing.assert_array_equal(same_labels, labels)
    flux, var = fitted._transformed(spectra)
    guess = fitted.first_guess(flux, var, fitted._extra(spectra))
    np.testing.assert_allclose(sigma, np.sqrt(formal ** 2 + (labels - guess) ** 2), rtol=1e-12)
    assert np.all(sigma >= formal) and np.all(np.median(sigma / formal, axis=0) > 1.5)


def test_batched_test_step_agrees_with_per_star_scipy_fit(fitted):
    spectra, labels = _stars(25, seed=3)
    predicted, _ = fitted.predict(spectra)
    vec, theta, scatter = fitted._vectorizer(), fitted.theta_[0], fitted.scatter_[0]
    offset, scale = fitted.offset_[0], fitted.scale_[0]
    weight = 1 / np.sqrt(spectra.flux_error ** 2 + scatter ** 2)
    for i in range(len(spectra)):
        def resid(x):
            return (spectra.flux[i] - vec(x[None])[0] @ theta.T) * weight[i]
        start = (predicted[i] - offset) / scale + 0.3
        best = least_squares(resid, start, method="lm", xtol=1e-12, ftol=1e-12).x * scale + offset
        assert np.allclose(predicted[i], best, atol=1e-3 * SCALE), (i, predicted[i], best)


def test_save_load_round_trip_and_grid_check(fitted, tmp_path):
    spectra, _ = _stars(50, seed=4)
    path = tmp_path / "cannon.npz"
    fitted.save(path)
    loaded = TheCannon.load(path)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict(spectra)[0], fitted.predict(spectra)[0])
    other_grid = Spectra(spectra.flux[:, :-1], spectra.flux_error[:, :-1], np.arange(N_PIXELS - 1.0),
                         spectra.aux, ())
    with pytest.raises(IncompatibleDataError, match="trained on 120 pixels"):
        loaded.predict(other_grid)


def test_unfitted_model_refuses_to_predict():
    spectra, _ = _stars(5, seed=5)
    with pytest.raises(NotFittedError):
        TheCannon().predict(spectra)


def test_extra_labels_held_fixed_and_regimes(rng):
    spectra, labels = _stars(1500, seed=6)
    colour = (labels[:, 0] - 5000) / 1000 + 0.01 * rng.standard_normal(len(labels))
    spectra = Spectra(spectra.flux, spectra.flux_error, spectra.wavelength, colour[:, None], ("bp_rp",))
    model = TheCannon(order=2, extra_labels=["bp_rp"],
                      regimes={"label": "logg", "edges": [3.0], "overlap": 0.3})
    model.fit(spectra.subset(slice(0, 1200)), labels[:1200], np.full((1200, 3), 0.01), NAMES)
    assert model.theta_.shape[0] == 2
    predicted, sigma = model.predict(spectra.subset(slice(1200, None)))
    assert np.all(np.isfinite(predicted)) and np.all(sigma > 0)
    assert np.median(np.abs(predicted[:, 0] - labels[1200:, 0])) < 60


def test_missing_labels_are_left_out_of_training():
    spectra, labels = _stars(600, seed=8)
    labels[:100, 2] = np.nan
    model = TheCannon(order=2).fit(spectra, labels, np.full_like(labels, 0.01), NAMES)
    assert np.all(np.isfinite(model.theta_))


def _with_correlated_noise(spectra, seed):
    """Spectra with a smooth random distortion per star, which the formal errors ignore."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, np.pi, N_PIXELS)
    distortion = 0.03 * rng.standard_normal((len(spectra), 1)) * np.sin(grid) + 0.03 * rng.standard_normal((len(spectra), 1)) * np.cos(2 * grid)
    return Spectra(spectra.flux + distortion, spectra.flux_error, spectra.wavelength, spectra.aux, ())


def test_uncertainties_are_calibrated_on_the_validation_set():
    spectra, labels = _stars(1500, seed=9)
    val_spectra, val_labels = _stars(600, seed=10)
    test_spectra, test_labels = _stars(600, seed=11)
    val_spectra, test_spectra = _with_correlated_noise(val_spectra, 12), _with_correlated_noise(test_spectra, 13)
    model = TheCannon(order=2, guess_disagreement=False, calibration_stars=500).fit(  # the formal sigma, too narrow
        spectra, labels, np.full_like(labels, 0.01), NAMES,
        validation=(val_spectra, val_labels, np.full_like(val_labels, 0.01)))
    predicted, sigma = model.predict(test_spectra)
    formal = model.predict(test_spectra, calibrate=False)[1]
    within = {name: [np.mean(np.abs((predicted - test_labels) / s) < k, axis=0) for k in (1, 2)]
              for name, s in (("calibrated", sigma), ("formal", formal))}
    # the errors of this model are lighter-tailed than a Gaussian's: 1 and 2 sigma are a compromise
    assert np.all(within["calibrated"][0] > 0.5) and np.all(within["calibrated"][1] > 0.93), within
    assert np.any(within["formal"][0] < 0.5) or np.any(within["formal"][1] < 0.9), within


def test_no_calibration_stars_no_calibration():
    spectra, labels = _stars(400, seed=14)
    model = TheCannon(order=2, calibration_stars=0).fit(
        spectra, labels, np.full_like(labels, 0.01), NAMES, validation=(*_stars(200, seed=15), np.full((200, 3), 0.01)))
    np.testing.assert_array_equal(model.uncertainty_calibration_, no_calibration(len(NAMES)))


def test_l1_regularization_shrinks_coefficients():
    spectra, labels = _stars(800, seed=14)
    kwargs = dict(order=2, )
    plain = TheCannon(**kwargs).fit(spectra, labels, np.full_like(labels, 0.01), NAMES)
    sparse = TheCannon(regularization=1e6, **kwargs).fit(spectra, labels, np.full_like(labels, 0.01), NAMES)
    assert np.abs(sparse.theta_[0][:, 1:]).sum() < 0.9 * np.abs(plain.theta_[0][:, 1:]).sum()
    np.testing.assert_allclose(sparse.theta_[0][:, 0], plain.theta_[0][:, 0], rtol=0.2)


def _copy_first_guess(fitted, model):
    for key in FirstGuess.STATE:
        setattr(model, f"guess_{key}_", getattr(fitted, f"guess_{key}_"))


def test_first_guess_starts_near_the_labels_and_the_fit_improves_on_it(fitted):
    """The regression that starts the test step is close to the labels, and the fit closer still."""
    spectra, labels = _stars(400, seed=2)
    flux, var = fitted._transformed(spectra)
    guess = fitted.first_guess(flux, var, fitted._extra(spectra))
    guess_error = np.median(np.abs(guess - labels), axis=0)
    assert np.all(guess_error < 0.1 * SCALE)
    assert np.all(np.median(np.abs(fitted.predict(spectra)[0] - labels), axis=0) < 0.5 * guess_error)


def test_holding_labels_fixed_gives_the_statistics_of_the_full_terms(rng):
    """Statistics folded over held labels give the same chi-square as the full term vectors."""
    vec = PolynomialVectorizer(4, 3)
    theta = rng.normal(size=(30, vec.n_terms))
    flux, ivar = rng.normal(size=(5, 30)), rng.uniform(1, 2, (5, 30))
    x = rng.normal(size=(5, 4))
    free, mapping = vec.held(2)
    held = Statistics.of(theta, flux, ivar).holding(vec.held_factors(x[:, 2:]), mapping)
    np.testing.assert_allclose(held.chi2(free(x[:, :2]))[0], Statistics.of(theta, flux, ivar).chi2(vec(x))[0],
                               rtol=1e-10)


def test_regime_of_highest_likelihood_wins_not_that_of_lowest_chi_square(fitted):
    """Two models that differ only in intrinsic scatter (and in a Teff offset that tells them
    apart): stars drawn with the small scatter belong to the first model. By chi-square alone
    the second, whose larger scatter shrinks every term, would win them all."""
    spectra, labels = _stars(200, seed=5)
    two = TheCannon(order=2)
    two.label_names_, two.aux_names_, two.wavelength_ = fitted.label_names_, (), fitted.wavelength_
    two.theta_ = np.stack([fitted.theta_[0]] * 2)
    two.scatter_ = np.stack([np.full(N_PIXELS, 0.001), np.full(N_PIXELS, 0.05)])
    two.offset_ = np.stack([fitted.offset_[0], fitted.offset_[0] + np.array([300.0, 0.0, 0.0])])
    two.scale_ = np.stack([fitted.scale_[0]] * 2)
    _copy_first_guess(fitted, two)
    two.uncertainty_calibration_ = no_calibration(3)
    predicted, _ = two.predict(spectra)
    shift = np.median(predicted[:, 0] - labels[:, 0])
    assert abs(shift) < 30  # the first model's labels, not 300 K above them


def test_asinh_transform_keeps_every_pixel_and_is_the_logarithm_where_bright():
    rng = np.random.default_rng(3)
    flux = np.vstack([np.full(50, 100.0), np.r_[np.full(25, 0.002), np.full(25, 5.0)]])  # second: faint blue end
    spectra = Spectra(flux + 0.01 * rng.standard_normal(flux.shape), np.full_like(flux, 0.01), np.arange(50.0),
                      np.empty((2, 0)), ())
    model = TheCannon(flux_transform="asinh")
    model.softening_ = np.full(50, 0.01)
    value, var = model._transformed(spectra)
    assert np.isfinite(var).all()  # the faint pixels stay: no cut that depends on the star's temperature
    np.testing.assert_allclose(value[0], np.log(spectra.flux[0] / 0.01), atol=1e-3)
    np.testing.assert_allclose(np.sqrt(var[0]), 0.01 / spectra.flux[0], rtol=1e-3)  # the log's error
    faint = np.sqrt(var[1, :25])
    assert np.all((faint > 0.25) & (faint <= 0.5 + 1e-12))  # near zero: nearly linear, error / 2b at most
    log_model = TheCannon(flux_transform="log")
    assert np.isinf(log_model._transformed(spectra)[1][1, :25]).all()  # the log drops them


def test_asinh_model_recovers_labels():
    spectra, labels = _stars(1500, seed=1)
    model = TheCannon(order=2, flux_transform="asinh").fit(
        spectra, labels, np.full_like(labels, 0.01), NAMES)
    test_spectra, test_labels = _stars(300, seed=2)
    predicted, _ = model.predict(test_spectra)
    assert np.all(np.median(np.abs(predicted - test_labels), axis=0) < 0.03 * SCALE)


def test_regime_model_whose_labels_fall_outside_its_regime_is_passed_over(fitted):
    """The more likely model places the stars 300 K above the true labels, outside its own
    regime (Teff >= 6000 K): the model whose labels fall inside its regime is taken."""
    spectra, labels = _stars(200, seed=5)
    # an overlap wide enough that both models are fitted to every star
    two = TheCannon(order=2, regimes={"label": "teff", "edges": [6000.0], "overlap": 1e4})
    two.label_names_, two.aux_names_, two.wavelength_ = fitted.label_names_, (), fitted.wavelength_
    two.theta_ = np.stack([fitted.theta_[0]] * 2)
    two.scatter_ = np.stack([np.full(N_PIXELS, 0.05), np.full(N_PIXELS, 0.001)])  # the second is more likely
    two.offset_ = np.stack([fitted.offset_[0], fitted.offset_[0] + np.array([300.0, 0.0, 0.0])])
    two.scale_ = np.stack([fitted.scale_[0]] * 2)
    _copy_first_guess(fitted, two)
    two.uncertainty_calibration_ = no_calibration(3)
    inside = labels[:, 0] + 300 < 6000  # where the second model's labels stay out of its regime
    predicted, _ = two.predict(spectra)
    assert abs(np.median(predicted[inside, 0] - labels[inside, 0])) < 30


def test_clipping_leaves_out_stars_the_model_cannot_describe(caplog):
    """Training stars with wrong labels (10%, labels of other stars) pull the model; fitted twice
    with the clip, the model leaves them out and recovers the true coefficients and labels."""
    spectra, labels = _stars(1500, seed=4)
    wrong = np.random.default_rng(5).permutation(1500)[:150]
    corrupted = labels.copy()
    corrupted[wrong] = labels[np.roll(wrong, 1)]
    err = np.full_like(labels, 0.01)
    plain = TheCannon(order=2, calibration_stars=0).fit(spectra, corrupted, err, NAMES)
    with caplog.at_level("INFO", logger="labeltransfer.methods.cannon"):
        clipped = TheCannon(order=2, calibration_stars=0, clip_chi2=3.0).fit(
            spectra, corrupted, err, NAMES)
    left_out = int(next(r.getMessage() for r in caplog.records if "left out" in r.getMessage()).split(": ")[1].split()[0])
    assert 120 <= left_out <= 300  # most of the 150 corrupted stars, under a fifth of all
    test_spectra, test_labels = _stars(300, seed=6)
    error = {name: np.median(np.abs(model.predict(test_spectra)[0] - test_labels), axis=0)
             for name, model in (("plain", plain), ("clipped", clipped))}
    assert np.all(error["clipped"] < 0.5 * error["plain"])
    assert np.all(error["clipped"] < 0.02 * SCALE)
    assert np.median(clipped.scatter_) < 0.5 * np.median(plain.scatter_)
