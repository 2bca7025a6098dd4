"""Out-of-distribution flags: stars outside the training set by construction are flagged, and stars like
the training stars are not, however imprecise the method."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.data.sample import build_sample
from labeltransfer.diagnostics.ood import FLAGS, TrainingDomain, beyond_training, ood_summary
from labeltransfer.io.checksums import file_checksum
from labeltransfer.methods import IncompatibleDataError, make_method
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
    validation, cool = cool.subset(np.arange(100)), cool.subset(np.arange(100, len(cool.apogee_id)))
    domain = TrainingDomain(train.spectra, train.labels, model.predict(validation.spectra)[0], seed=0)
    for stars, expect_flagged in ((cool, False), (hot, True)):
        predicted, sigma = model.predict(stars.spectra)
        flags = domain.flags(stars.spectra, predicted,
                             model.misfit_flags(stars.spectra, predicted, sigma, model.misfit_baseline(train.spectra)))
        spectrum = np.mean((flags & FLAGS["spectrum"]) > 0)
        assert (spectrum > 0.9) if expect_flagged else (spectrum < 0.05), (len(stars.apogee_id), spectrum)
        assert not np.any(flags & FLAGS["model"])  # the nearest neighbours have no misfit measure
        reference_beyond = np.mean(domain.reference_beyond(stars.labels))
        assert (reference_beyond > 0.9) if expect_flagged else (reference_beyond < 0.05), reference_beyond


@pytest.fixture(scope="module")
def cool_split():
    """Stars below 5600 K, all alike, split into training, validation and test stars."""
    sample = build_sample(synthetic_stars(8000, seed=7), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    cool = np.flatnonzero(sample.labels[:, 0] < 5600)
    return sample.subset(cool[:2500]), sample.subset(cool[2500:4000]), sample.subset(cool[4000:])


@pytest.mark.parametrize("noise, hotter, flagged_hot", [(0.05, 1000, 1.0), (0.75, 2000, 0.95)])
def test_the_label_bit_flags_stars_beyond_the_training_set_not_an_imprecise_method_s_stars(cool_split, noise, hotter,
                                                                                           flagged_hot):
    """A method whose predictions scatter about the truth by ``noise`` times the training labels' spread:
    the label bit flags 1% of the test stars like the training stars, whether it is precise (0.05) or not
    (0.75: the training stars' own threshold on its predictions flagged over 15% of them), and the stars
    ``hotter`` K beyond the hottest training star, whose reference and predicted labels lie outside."""
    train, validation, test = cool_split
    rng = np.random.default_rng(3)
    scale = noise * np.std(train.labels, axis=0)

    def predicted(labels):
        return labels + rng.normal(0, 1, labels.shape) * scale

    validation_predictions = predicted(validation.labels)
    validation_predictions[:20] = np.nan  # a star the method did not label: left out
    domain = TrainingDomain(train.spectra, train.labels, validation_predictions, seed=0)
    test_predictions = predicted(test.labels)
    flags = domain.flags(test.spectra, test_predictions, np.zeros(len(test_predictions), bool))
    assert 0.003 < np.mean((flags & FLAGS["labels"]) > 0) < 0.03
    old_rule = np.mean(domain.reference_beyond(test_predictions) == 1)  # the training stars' threshold, on predictions
    assert (old_rule > 0.15) if noise > 0.5 else (old_rule < 0.03), old_rule

    injected = test.labels[:100].copy()
    injected[:, 0] = np.max(train.labels[:, 0]) + hotter
    flags = domain.flags(test.spectra.subset(np.arange(100)), predicted(injected), np.zeros(100, bool))
    assert np.mean((flags & FLAGS["labels"]) > 0) >= flagged_hot
    assert (domain.reference_beyond(injected) == 1).all()
    assert np.mean(domain.reference_beyond(test.labels) == 1) < 0.03  # the reference test: 1% by construction


def test_a_domain_saved_and_read_flags_as_the_one_made_and_shares_its_spectral_side(cool_split, tmp_path):
    train, validation, test = cool_split
    rng = np.random.default_rng(4)
    precise, imprecise = (validation.labels + rng.normal(0, 1, validation.labels.shape) * scale * np.std(
        train.labels, axis=0) for scale in (0.05, 0.75))
    domain = TrainingDomain(train.spectra, train.labels, precise, seed=0)
    np.savez(tmp_path / "domain.npz", **domain.to_arrays())
    with np.load(tmp_path / "domain.npz") as arrays:
        read = TrainingDomain.from_arrays(arrays)
    stars, model_flags = test.spectra, np.arange(len(test.apogee_id)) % 7 == 0
    predictions = test.labels + rng.normal(0, 1, test.labels.shape) * 0.3 * np.std(train.labels, axis=0)
    for made, other in ((domain, read), (TrainingDomain(train.spectra, train.labels, imprecise, seed=0),
                                         read.for_predictions(imprecise))):
        np.testing.assert_array_equal(made.flags(stars, predictions, model_flags),
                                      other.flags(stars, predictions, model_flags))
        np.testing.assert_array_equal(made.reference_beyond(predictions), other.reference_beyond(predictions))
        assert made.seed == other.seed == 0
    assert read.for_predictions(imprecise).predicted_beyond.threshold > 1.5 * read.predicted_beyond.threshold
    labels_bit = (domain.flags(stars, predictions, model_flags) & FLAGS["labels"]) > 0
    assert labels_bit.any() and not labels_bit.all()  # the comparison means something


def test_a_domain_saved_by_the_version_before_is_refused(cool_split, tmp_path):
    """Before, the label threshold was the training stars' own: such a file is refused in one line that
    names the file and says how to make it anew."""
    from labeltransfer.survey.labelling import SurveyModel

    train, validation, _ = cool_split
    arrays = TrainingDomain(train.spectra, train.labels, validation.labels, seed=0).to_arrays()
    arrays["settings"] = arrays["settings"][:4]  # K, QUANTILE, N_COMPONENTS and the reference stars: no format
    del arrays["training_label_threshold"]
    with pytest.raises(ValueError, match=r"older version, whose label bit's threshold is the training stars' own"):
        TrainingDomain.from_arrays(arrays)
    some = train.subset(np.arange(200))
    model = make_method("knn", {"n_neighbours": 5, "n_components": 5}).fit(
        some.spectra, some.labels, some.label_err, some.label_names)
    model.save(tmp_path / "knn.npz")
    np.savez(tmp_path / "old.npz", **arrays, has_misfit_baseline=False, misfit_baseline=np.nan,
             model_sha256=file_checksum(tmp_path / "knn.npz"))
    with pytest.raises(IncompatibleDataError) as refused:
        SurveyModel("knn", model, tmp_path / "knn.npz").read_domain(tmp_path / "old.npz")
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'old.npz'}: made by an older version")
    assert "rerun the workflow's survey_domain rule" in message


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
                          "flags": np.where(flagged, FLAGS["spectrum"] + FLAGS["model"], 0),
                          "reference_beyond_training": 0.0})
    row = ood_summary({"m": table}, ["teff"]).iloc[0]
    assert row["flagged_fraction"] == 0.1 and row["spectrum_fraction"] == 0.1 and row["model_fraction"] == 0.1
    assert row["labels_fraction"] == 0 and row["n_flagged"] == 300 and row["ratio"] == pytest.approx(3.0, rel=0.15)


def test_summary_gives_the_fractions_flagged_of_stars_beyond_the_training_set_and_within():
    """1,000 test stars: 100 whose reference labels lie beyond the training set's (80 with the label bit,
    10 more with the spectrum bit alone), 850 within (17 with the label bit, 34 more with another), 50 not
    judged (a reference label missing: in neither count)."""
    beyond = np.r_[np.ones(100), np.zeros(850), np.full(50, np.nan)]
    flags = np.zeros(1000, dtype=np.int64)
    flags[:80], flags[80:90] = FLAGS["labels"] + FLAGS["spectrum"], FLAGS["spectrum"]
    flags[100:117], flags[117:151], flags[950:] = FLAGS["labels"], FLAGS["model"], FLAGS["labels"]
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"teff": rng.normal(0, 50, 1000), "teff_ref": 0.0, "logg": rng.normal(0, 0.1, 1000),
                          "logg_ref": 0.0, "flags": flags, "reference_beyond_training": beyond})
    summary = ood_summary({"precise": table, "no stars beyond": table.assign(reference_beyond_training=0.0)},
                          ["teff", "logg"])
    assert len(summary) == 4
    for _, row in summary[summary["method"] == "precise"].iterrows():
        assert (row["n_reference_beyond"], row["n_reference_within"]) == (100, 850)
        assert row["labels_fraction_beyond"] == 0.8 and row["flagged_fraction_beyond"] == 0.9
        assert row["labels_fraction_within"] == 0.02 and row["flagged_fraction_within"] == 0.06
    other = summary[summary["method"] == "no stars beyond"].iloc[0]
    assert other["n_reference_beyond"] == 0 and np.isnan(other["labels_fraction_beyond"])
    assert other["n_reference_within"] == 1000 and other["labels_fraction_within"] == pytest.approx(0.147)
    with pytest.raises(KeyError, match="predictions of old have no reference_beyond_training: made by an older"):
        ood_summary({"old": table.drop(columns="reference_beyond_training")}, ["teff"])
