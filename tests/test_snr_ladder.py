"""The S/N ladder's noise injection: the S/N it claims is the S/N the noise has."""

import numpy as np
import pytest

from labeltransfer.diagnostics.degrade import degrade_to_snr, snr_at_magnitudes
from labeltransfer.data.spectra import Spectra


def _noisy_spectra(n_stars, snr, rng, n_pixels=300):
    """Spectra of known true flux with the noise their errors say, and that true flux."""
    truth = 1.0 + 0.3 * np.sin(np.linspace(0, 6, n_pixels))[None, :] * np.ones((n_stars, 1))
    error = truth / snr[:, None]
    flux = truth + error * rng.standard_normal(truth.shape)
    aux = np.column_stack([np.arange(n_stars, dtype=float)])
    return Spectra(flux, error, np.linspace(336, 1020, n_pixels), aux, ("parallax",)), truth


@pytest.mark.parametrize("target", [5.0, 20.0, 50.0])
def test_the_injected_noise_has_the_claimed_snr_within_two_percent(rng, target):
    spectra, truth = _noisy_spectra(4000, np.full(4000, 100.0), rng)
    degraded, kept = degrade_to_snr(spectra, target, np.random.default_rng(7))
    assert kept.all()
    assert np.median(degraded.snr()) == pytest.approx(target, rel=0.01)  # what the errors claim
    realised = np.std(degraded.flux - truth, axis=0)  # what the noise is, pixel by pixel over the stars
    assert np.median(truth[0] / realised) == pytest.approx(target, rel=0.02)


def test_noise_is_never_taken_away_and_masked_pixels_stay_masked(rng):
    spectra, _ = _noisy_spectra(3, np.array([10.0, 40.0, 80.0]), rng)
    spectra.flux_error[2, :5] = np.inf
    degraded, kept = degrade_to_snr(spectra, 30.0, rng)
    assert kept.tolist() == [False, True, True]  # the S/N 10 star is left out
    assert np.isinf(degraded.flux_error[1, :5]).all() and np.isfinite(degraded.flux_error[0]).all()
    np.testing.assert_array_equal(degraded.flux[1, :5], spectra.flux[2, :5])
    np.testing.assert_array_equal(degraded.aux[:, 0], [1.0, 2.0])  # auxiliary features as measured
    assert degraded.snr() == pytest.approx([30.0, 30.0], rel=0.05)


def test_snr_at_magnitudes_follows_the_sample_relation(rng):
    g_mag = rng.uniform(10, 16, 5000)
    snr = 10 ** (4.0 - 0.2 * g_mag) * np.exp(0.05 * rng.standard_normal(5000))
    expected = 10 ** (4.0 - 0.2 * np.array([15.0, 16.0, 17.0]))
    np.testing.assert_allclose(snr_at_magnitudes(snr, g_mag, [15, 16, 17]), expected, rtol=0.03)
    assert np.isnan(snr_at_magnitudes(snr[:10], g_mag[:10], [15])).all()  # too few stars for two bins


def test_band_limited_noise_keeps_each_pixel_s_variance_and_lies_in_the_basis(rng):
    spectra, truth = _noisy_spectra(3000, np.full(3000, 1000.0), rng)  # nearly noiseless: the added noise shows
    basis = np.linalg.qr(rng.standard_normal((300, 40)))[0]
    degraded, _ = degrade_to_snr(spectra, 20.0, np.random.default_rng(3), basis=basis)
    added = truth[0] / 1000.0 * np.sqrt((1000.0 / 20.0) ** 2 - 1)  # each pixel's added sigma
    noise = (degraded.flux - spectra.flux) / added
    np.testing.assert_allclose(np.std(noise, axis=0), 1.0, rtol=0.08)
    in_span = noise * np.sqrt(np.sum(basis ** 2, axis=1))
    assert np.linalg.norm(in_span - in_span @ basis @ basis.T) < 1e-8 * np.linalg.norm(in_span)
    independent, _ = degrade_to_snr(spectra, 20.0, np.random.default_rng(3))
    white = (independent.flux - spectra.flux) / added * np.sqrt(np.sum(basis ** 2, axis=1))
    assert np.linalg.norm(white - white @ basis @ basis.T) > 0.5 * np.linalg.norm(white)  # independent: mostly outside
