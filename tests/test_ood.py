"""Out-of-distribution flags: stars outside the training set by construction are flagged."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.methods import make_method
from labeltransfer.diagnostics.ood import FLAGS, beyond_training, domain_flags, ood_summary
from labeltransfer.data.sample import build_sample
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True},
          "fe_h": {"range": [-2.5, 0.7], "max_err": 0.2, "err_floor": 0.01, "required": True}}


@pytest.fixture(scope="module")
def cool_and_hot():
    """Training stars below 5600 K; test stars below 5600 K and above 6000 K (out of distribution)."""
    sample = build_sample(synthetic_stars(2400, seed=5), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    teff = sample.labels[:, 0]
    cool, hot = np.flatnonzero(teff < 5600), np.flatnonzero(teff > 6000)
    return sample.subset(cool[:1400]), sample.subset(cool[1400:]), sample.subset(hot)


def test_stars_hotter_than_every_training_star_are_flagged(cool_and_hot):
    train, cool, hot = cool_and_hot
    model = make_method("knn", {"n_neighbours": 5, "n_components": 10}).fit(
        train.spectra, train.labels, train.label_err, train.label_names)
    for stars, expect_flagged in ((cool, False), (hot, True)):
        predicted, sigma = model.predict(stars.spectra)
        flags = domain_flags(train.spectra, train.labels, stars.spectra, predicted,
                          model.misfit_flags(stars.spectra, predicted, sigma, model.misfit_baseline(train.spectra)),
                          seed=0)
        spectrum = np.mean((flags & FLAGS["spectrum"]) > 0)
        assert (spectrum > 0.9) if expect_flagged else (spectrum < 0.05), (len(stars.apogee_id), spectrum)
        assert not np.any(flags & FLAGS["model"])  # the nearest neighbours have no misfit measure


def test_labels_where_the_training_set_has_no_stars_are_flagged():
    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, (3000, 3))
    inside, far = rng.normal(0, 1, (500, 3)), rng.normal(0, 1, (50, 3)) + [8, 0, 0]
    flagged = beyond_training(train, np.vstack([inside, far, [[np.nan, 0, 0]]]), rng)
    assert flagged[500:550].all() and flagged[:500].mean() < 0.03 and not flagged[-1]


def test_the_cannon_flags_spectra_it_cannot_fit(cool_and_hot):
    train, cool, _ = cool_and_hot
    model = make_method("cannon", {"order": 2}).fit(
        train.spectra, train.labels, train.label_err, train.label_names)
    spectra = cool.spectra.subset(np.arange(200))
    spectra.flux[:20, 100:110] *= 1.5  # an emission feature the model has never seen
    flagged = model.misfit_flags(spectra, *model.predict(spectra), model.misfit_baseline(train.spectra))
    assert flagged[:20].all() and flagged[20:].mean() < 0.05


def test_a_single_network_never_flags_disagreement(cool_and_hot):
    train, cool, _ = cool_and_hot
    model = make_method("mlp", {"hidden_sizes": [16], "epochs": 3, "n_members": 1}).fit(
        train.spectra, train.labels, train.label_err, train.label_names,
        validation=(cool.spectra, cool.labels, cool.label_err))
    assert model.misfit_baseline(train.spectra) is None
    assert not model.misfit_flags(cool.spectra, *model.predict(cool.spectra), None).any()


@pytest.mark.parametrize("name", ["mlp", "cannon"])
def test_predict_and_flag_gives_predict_and_misfit_flags_in_one_call(cool_and_hot, name):
    train, cool, hot = cool_and_hot
    params = {"hidden_sizes": [16], "epochs": 3, "n_members": 3} if name == "mlp" else {"order": 1}
    model = make_method(name, params).fit(train.spectra, train.labels, train.label_err, train.label_names,
                                          validation=(cool.spectra, cool.labels, cool.label_err))
    stars = hot.spectra.subset(np.arange(300))
    labels, sigma = model.predict(stars)
    reference = model.misfit_baseline(train.spectra)
    expected = model.misfit_flags(stars, labels, sigma, reference)
    together = model.predict_and_flag(stars, reference)
    for got, want in zip(together, (labels, sigma, expected)):
        np.testing.assert_array_equal(got, want)
    assert expected.any()  # hotter than every training star: flagged, so the comparison means something


def test_summary_gives_fractions_and_the_scatter_ratio():
    rng = np.random.default_rng(1)
    flagged = np.arange(3000) < 300
    residual = rng.normal(0, 1, 3000) * np.where(flagged, 3.0, 1.0)
    table = pd.DataFrame({"teff": residual, "teff_ref": 0.0,
                          "flags": np.where(flagged, FLAGS["spectrum"] + FLAGS["model"], 0)})
    row = ood_summary({"m": table}, ["teff"]).iloc[0]
    assert row["flagged_fraction"] == 0.1 and row["spectrum_fraction"] == 0.1 and row["model_fraction"] == 0.1
    assert row["labels_fraction"] == 0 and row["n_flagged"] == 300 and row["ratio"] == pytest.approx(3.0, rel=0.15)
