"""Abundance or correlation: a method beats the relation baseline on [alpha/M] only where the
spectrum holds [alpha/M] information."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.diagnostics.abundance import abundance_or_correlation, relation_baseline
from labeltransfer.methods import make_method
from labeltransfer.data.spectra import Spectra

NAMES = ("teff", "logg", "fe_h", "alpha_m")


def _stars(n, rng, alpha_in_spectrum):
    """Spectra of Teff, logg, [Fe/H] (and [alpha/M] when ``alpha_in_spectrum``); in the labels,
    [alpha/M] follows [Fe/H] with a 0.05 dex spread about the relation."""
    teff, logg, fe_h = rng.uniform(4000, 6000, n), rng.uniform(1, 4.5, n), rng.normal(-0.3, 0.3, n)
    alpha = 0.1 - 0.3 * fe_h + rng.normal(0, 0.05, n)
    x = np.linspace(-1, 1, 200)
    flux = (1 + 0.3 * ((teff - 5000) / 1000)[:, None] * x + 0.05 * (logg - 3)[:, None] * x ** 2
            + 0.1 * fe_h[:, None] * np.cos(5 * x) + (0.1 * alpha[:, None] * np.sin(11 * x) if alpha_in_spectrum else 0))
    error = np.full_like(flux, 0.002)
    spectra = Spectra(flux + error * rng.standard_normal(flux.shape), error, np.arange(200.0), np.empty((n, 0)), ())
    return spectra, np.column_stack([teff, logg, fe_h, alpha])


@pytest.mark.parametrize("alpha_in_spectrum, verdict", [(False, {"tie", "baseline better"}), (True, {"measures"})])
def test_a_method_beats_the_relation_only_where_the_spectrum_holds_alpha(rng, alpha_in_spectrum, verdict):
    train_spectra, train_labels = _stars(3000, rng, alpha_in_spectrum)
    test_spectra, test_labels = _stars(1500, rng, alpha_in_spectrum)
    model = make_method("knn", {"n_neighbours": 10, "n_components": 8}).fit(
        train_spectra, train_labels, np.full_like(train_labels, 0.01), NAMES)
    predicted, _ = model.predict(test_spectra)
    table = pd.DataFrame({**{name: predicted[:, k] for k, name in enumerate(NAMES)},
                          **{f"{name}_ref": test_labels[:, k] for k, name in enumerate(NAMES)}})
    result = abundance_or_correlation({"knn": table}, train_labels, NAMES, n_resamples=300, seed=1)
    assert set(result["verdict"]) <= verdict, result


def test_the_baseline_is_the_mean_of_the_nearest_training_stars():
    train_inputs = np.array([[0.0, 0, 0], [1, 1, 1], [10, 10, 10], [11, 11, 11]])
    target = np.array([1.0, 3.0, 10.0, 20.0])
    out = relation_baseline(train_inputs, target, np.array([[0.5, 0.5, 0.5], [np.nan, 0, 0]]), k=2)
    assert out[0] == pytest.approx(2.0) and np.isnan(out[1])
