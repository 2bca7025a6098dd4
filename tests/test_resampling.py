"""Tests of labeltransfer.data.resampling: continuum, rest frame and resampling of survey spectra."""

import numpy as np
import pytest

from labeltransfer.data.resampling import SPEED_OF_LIGHT_KMS, continuum_normalise, log_linear_grid, resample, to_rest_frame

WAVELENGTH = log_linear_grid(15100.8, 17000.0, 6e-6)  # the APOGEE grid


def _star(snr, seed):
    rng = np.random.default_rng(seed)
    continuum = 1000 * (1 + 0.2 * np.sin(WAVELENGTH / 300))
    lines = 1 - 0.3 * (np.arange(WAVELENGTH.size) % 40 == 0)
    sigma = continuum / snr
    return continuum, continuum * lines + rng.normal(0, sigma), 1 / sigma ** 2


def test_grid_is_the_apogee_one():
    assert WAVELENGTH.size == 8575 and WAVELENGTH[-1] == pytest.approx(16999.81, abs=0.01)


def test_continuum_does_not_depend_on_snr_and_ignores_masked_pixels():
    normalised = {}
    for snr in (30, 300):
        continuum, flux, ivar = _star(snr, seed=snr)
        ivar[2000:2100] = 0
        flux[2000:2100] = 1e6  # garbage under the mask must not pull the continuum
        normalised[snr], nivar = continuum_normalise(WAVELENGTH, flux, ivar, width=50.0)
        assert (nivar[2000:2100] == 0).all()
        continuum_pixels = (np.arange(WAVELENGTH.size) % 40 != 0)
        continuum_pixels[2000:2100] = False
        assert np.median(normalised[snr][continuum_pixels]) == pytest.approx(1.0, abs=0.01)
    line_depths = [np.median(normalised[snr][::40][:49]) for snr in (30, 300)]
    assert line_depths == pytest.approx([0.7, 0.7], abs=0.02)


def test_normalisation_of_many_stars_at_once_matches_one_by_one():
    stars = [_star(100, seed) for seed in range(3)]
    flux = np.array([s[1] for s in stars])
    ivar = np.array([s[2] for s in stars])
    together, _ = continuum_normalise(WAVELENGTH, flux, ivar, width=50.0)
    np.testing.assert_allclose(together[1], continuum_normalise(WAVELENGTH, flux[1], ivar[1], width=50.0)[0])


def test_rest_frame_puts_a_shifted_line_back():
    observed = 16000.0 * (1 + 120.0 / SPEED_OF_LIGHT_KMS)
    assert to_rest_frame(observed, 120.0) == pytest.approx(16000.0)
    assert to_rest_frame(observed, 0.0) == observed


def test_resampling_is_exact_for_linear_flux_and_carries_the_mask():
    wavelength = np.linspace(100.0, 200.0, 101)
    flux = 2.0 * wavelength + 1.0
    ivar = np.ones_like(wavelength)
    ivar[50] = 0  # 150.0 masked
    new = np.array([99.0, 120.25, 149.5, 150.5, 170.0, 200.0, 201.0])
    new_flux, new_ivar = resample(wavelength, flux, ivar, new)
    usable = new_ivar > 0
    np.testing.assert_array_equal(usable, [False, True, False, False, True, True, False])
    np.testing.assert_allclose(new_flux[usable], 2.0 * new[usable] + 1.0)
    assert new_ivar[1] == pytest.approx(1 / (0.75 ** 2 + 0.25 ** 2))  # variance of the interpolation
    assert new_ivar[4] == pytest.approx(1.0)
