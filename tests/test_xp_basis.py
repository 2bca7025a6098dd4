"""XP coefficients to sampled spectra by one matrix product, checked against gaiaxpy.calibrate on the
real GaiaXPy rows and on generated ones; the one route to the methods' spectra (the flux divided by
its median) checked against gaiaxpy's too; and the ladder's noise drawn with each source's covariance."""

import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_FIXTURES, load_bench
from labeltransfer.diagnostics.degrade import degrade_to_snr
from labeltransfer.xp.bulk import read_xp_blocks
from labeltransfer.xp.continuous import read_xp_covariances
from labeltransfer.xp.flux import divided_by_median, normalised_xp_flux
from labeltransfer.xp.library import XP_WAVELENGTH
from labeltransfer.data.spectra import Spectra
from labeltransfer.xp.basis import (LIBRARY_DESIGN, N_COEFFICIENTS, XPSampler, coefficient_covariance, design_matrix,
                                    gaiaxpy_design)
from labeltransfer.xp.noise import XPNoise
from survey_factory import write_xp_continuous

REAL_XP = SHARED_FIXTURES / "real" / "gaia_xp"


def _calibrated(path):
    """gaiaxpy's own flux and flux_error of every source of an XP file, and the file's arrays (one block)."""
    from gaiaxpy import calibrate

    sampled, _ = calibrate(pd.read_csv(path), sampling=XP_WAVELENGTH, save_file=False)
    block = next(read_xp_blocks(path))
    sampled = sampled.drop_duplicates("source_id").set_index("source_id").loc[block.source_id]
    return np.vstack(sampled["flux"].to_numpy()), np.vstack(sampled["flux_error"].to_numpy()), block


def _check_against_gaiaxpy(path):
    flux, error, block = _calibrated(path)
    design = design_matrix(XP_WAVELENGTH)
    noise = XPNoise.from_covariances(design, read_xp_covariances([path], block.source_id))
    both = block.has_band().all(axis=1)  # with one band gaiaxpy takes the other alone in the overlap: masked here
    coefficients = block.coefficients.reshape(len(block), 2 * N_COEFFICIENTS)[both]
    assert np.max(np.abs(coefficients @ design.T - flux[both])) < 1e-6 * np.max(np.abs(flux[both]))
    assert np.allclose(noise.flux_error()[both], error[both], rtol=1e-6)
    assert both.sum() >= 2


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_the_design_matrix_gives_gaiaxpy_s_flux_and_errors_on_the_real_rows():
    _check_against_gaiaxpy(REAL_XP / "XP_CONTINUOUS_RAW.csv")
    _check_against_gaiaxpy(REAL_XP / "XP_CONTINUOUS_RAW_with_missing_BP.csv")


def test_the_design_matrix_gives_gaiaxpy_s_flux_and_errors_on_generated_rows(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [11, 12, 13], no_bp=[13], seed=4)
    _check_against_gaiaxpy(tmp_path / "xp.csv")


def _check_normalised_against_gaiaxpy(path):
    """The methods' spectra are gaiaxpy's flux and flux_error over the median flux of the unmasked pixels;
    a missing band masks every pixel it reaches, the overlap included (gaiaxpy's NaN and 4 more)."""
    flux, error, block = _calibrated(path)
    normalised, normalised_error, usable = normalised_xp_flux(XPSampler(XP_WAVELENGTH), block.coefficients,
                                                              block.errors, block.correlations)
    assert normalised.dtype == normalised_error.dtype == np.float32
    np.testing.assert_array_equal(usable, block.has_band())
    design = design_matrix(XP_WAVELENGTH)
    reached = [np.any(design[:, b * N_COEFFICIENTS:(b + 1) * N_COEFFICIENTS] != 0, axis=1) for b in range(2)]
    one_band = 0
    for i in range(len(block)):
        masked = np.any([reached[b] & ~usable[i, b] for b in range(2)], axis=0)
        assert np.isinf(normalised_error[i, masked]).all() and (normalised[i, masked] == 0).all()
        assert np.isnan(flux[i]).sum() == (0 if usable[i].all() else masked.sum() - 4)
        median = np.median(flux[i, ~masked])
        np.testing.assert_allclose(normalised[i, ~masked], flux[i, ~masked] / median, rtol=1e-6)
        np.testing.assert_allclose(normalised_error[i, ~masked], error[i, ~masked] / abs(median), rtol=2e-6)
        one_band += not usable[i].all()
    assert one_band == 1


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_the_normalised_flux_is_gaiaxpy_s_over_its_median_on_the_real_rows():
    _check_normalised_against_gaiaxpy(REAL_XP / "XP_CONTINUOUS_RAW_with_missing_BP.csv")


def test_the_normalised_flux_is_gaiaxpy_s_over_its_median_on_generated_rows(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [11, 12, 13, 14], no_bp=[13], seed=5)
    _check_normalised_against_gaiaxpy(tmp_path / "xp.csv")


def test_the_median_is_that_of_the_unmasked_pixels_and_a_spectrum_without_one_is_masked_quietly():
    flux = np.array([[1.0, 2.0, 3.0, 4.0, 100.0], [np.nan, 2.0, 6.0, 4.0, 100.0], [1.0, 2.0, 3.0, 4.0, 5.0],
                     [np.nan] * 5, [0.0, 0.0, 0.0, 1.0, 2.0], [-1.0, -2.0, -3.0, -4.0, -5.0]])
    error = np.full(flux.shape, 0.5)
    error[2, 4] = np.inf  # masked by its error: the median of 1, 2, 3, 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "All-NaN slice" for the spectrum without a pixel
        normalised, normalised_error = divided_by_median(flux, error)
    assert normalised.dtype == normalised_error.dtype == np.float32
    np.testing.assert_allclose(normalised[0], flux[0] / 3.0)
    np.testing.assert_allclose(normalised[1], [0.0, 0.4, 1.2, 0.8, 20.0])  # a band missing: the median of the rest
    np.testing.assert_allclose(normalised_error[1], [np.inf, 0.1, 0.1, 0.1, 0.1])
    np.testing.assert_allclose(normalised[2, :4], flux[2, :4] / 2.5)
    assert normalised[2, 4] == np.float32(2.0) and np.isinf(normalised_error[2, 4])
    for row in (3, 4):  # no pixel; a median of 0
        assert (normalised[row] == 0).all() and np.isinf(normalised_error[row]).all()
    np.testing.assert_allclose(normalised_error[5], 0.5 / 3.0)  # the error over the median's absolute value
    empty = divided_by_median(flux[:0], error[:0])
    assert [a.shape for a in empty] == [(0, 5), (0, 5)]


def test_the_shipped_design_matrix_is_gaiaxpy_s_on_the_library_grid():
    def same(a, b):
        return np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(b))

    shipped = design_matrix(XP_WAVELENGTH)
    assert same(shipped, gaiaxpy_design(XP_WAVELENGTH))
    with np.load(LIBRARY_DESIGN) as file:
        assert np.array_equal(file["wavelength"], XP_WAVELENGTH)
    other = XP_WAVELENGTH[1::2]  # another grid: made by gaiaxpy, not taken from the shipped file
    assert design_matrix(other).shape == (len(other), 110) and same(design_matrix(other), shipped[1::2])


def _correlated_sources(n, seed, jitter):
    """Coefficients, float32 errors and correlations of ``n`` sources whose correlations come from
    three factors plus ``jitter`` (small: nearly degenerate), the second source without BP."""
    rng = np.random.default_rng(seed)
    lower = np.tril_indices(55, -1)

    def correlations():
        factors = rng.normal(size=(55, 3))
        covariance = factors @ factors.T + jitter * np.eye(55)
        scale = np.sqrt(np.diag(covariance))
        return (covariance / np.outer(scale, scale))[lower]

    coefficients = rng.normal(0, 1e3, (n, 2, 55))
    errors = np.broadcast_to(10 + 1e4 * 0.7 ** np.arange(55)[::-1], (n, 2, 55)).astype(np.float32)
    correlated = np.array([[correlations() for _ in range(2)] for _ in range(n)], dtype=np.float32)
    coefficients[1, 0] = errors[1, 0] = correlated[1, 0] = np.nan
    return coefficients, errors, correlated


def _quadratic_form_errors(coefficients, errors, correlations, wavelength):
    """Each pixel's flux error as sqrt(sum over bands of d_p^T C d_p), in float64, source by source."""
    design = design_matrix(wavelength)
    variance = np.zeros((len(coefficients), len(wavelength)))
    for i in range(len(coefficients)):
        for b in range(2):
            if np.isfinite(coefficients[i, b, 0]):
                band = design[:, 55 * b:55 * (b + 1)]
                covariance = coefficient_covariance(errors[i, b], correlations[i, b])
                variance[i] += np.einsum("pi,ij,pj->p", band, covariance, band)
    return np.sqrt(variance)


@pytest.mark.parametrize("jitter, tolerance", [(1.0, 1e-5), (1e-4, 1e-3)])
def test_the_sampler_s_float32_errors_against_the_float64_quadratic_form(jitter, tolerance):
    # nearly degenerate coefficients (jitter 1e-4) make a pixel's variance a small difference of
    # large float32 terms: 2e-4 there, 2e-6 on the real rows and moderate correlations
    coefficients, errors, correlations = _correlated_sources(40, 3, jitter)
    flux, error = XPSampler(XP_WAVELENGTH).sample(coefficients, errors, correlations)
    expected = _quadratic_form_errors(coefficients, errors, correlations, XP_WAVELENGTH)
    usable = np.isfinite(flux)
    assert flux.dtype == error.dtype == np.float64
    assert (~usable[1, :154]).all() and usable[1, 154:].all() and usable[[0, *range(2, 40)]].all()
    assert np.max(np.abs(error[usable] / expected[usable] - 1)) < tolerance
    full = np.nan_to_num(coefficients.reshape(40, 110))
    assert np.allclose(flux[usable], (full @ design_matrix(XP_WAVELENGTH).T)[usable], rtol=0,
                       atol=1e-12 * np.max(np.abs(flux[usable])))


def test_the_sampler_s_blocks_change_nothing_beyond_float32_rounding_and_an_empty_block_is_empty():
    coefficients, errors, correlations = _correlated_sources(600, 5, 1.0)
    whole = XPSampler(XP_WAVELENGTH, sub_rows=10_000).sample(coefficients, errors, correlations)
    for sub_rows in (256, 7):
        for got, want in zip(XPSampler(XP_WAVELENGTH, sub_rows=sub_rows).sample(coefficients, errors, correlations),
                             whole):
            np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
            np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-4)
    empty = XPSampler(XP_WAVELENGTH).sample(coefficients[:0], errors[:0], correlations[:0])
    assert [a.shape for a in empty] == [(0, 343), (0, 343)]


def test_the_sampler_takes_a_grid_one_band_does_not_reach():
    red = np.arange(700.0, 1000.0, 10.0)  # BP reaches none of it
    coefficients, errors, correlations = _correlated_sources(3, 6, 1.0)
    flux, error = XPSampler(red).sample(coefficients, errors, correlations)
    expected = _quadratic_form_errors(coefficients, errors, correlations, red)
    assert np.isfinite(flux).all() and np.allclose(error, expected, rtol=1e-5)


def test_coefficient_covariance_reads_the_archive_s_lower_triangle():
    errors = np.array([1.0, 2.0, 3.0])
    covariance = coefficient_covariance(errors, [0.5, 0.1, -0.2])  # (1,0), (2,0), (2,1)
    assert np.allclose(covariance, [[1, 1, 0.3], [1, 4, -1.2], [0.3, -1.2, 9]])
    with pytest.raises(ValueError, match="2 correlations for 3 coefficients"):
        coefficient_covariance(errors, [0.5, 0.1])


def _toy_noise(n_sources, n_pixels=120, seed=0):
    """An XP-like noise model: smooth basis functions and correlated coefficients."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 1, n_pixels)
    design = np.column_stack([np.cos(np.pi * k * grid) for k in range(20)])
    mixing = rng.normal(size=(20, 20)) / 5 + np.eye(20)
    return XPNoise.from_covariances(design, np.repeat((mixing @ mixing.T)[None], n_sources, axis=0))


def test_unit_noise_has_unit_variance_and_the_covariance_s_correlations():
    noise = _toy_noise(20_000)
    draws = noise.unit_noise(np.random.default_rng(1))
    assert np.allclose(draws.var(axis=0), 1, atol=0.05)
    factor = noise.design @ noise.factors[0]
    covariance = factor @ factor.T
    correlation = covariance / np.sqrt(np.outer(np.diag(covariance), np.diag(covariance)))
    assert np.allclose(np.corrcoef(draws[:, ::10].T), correlation[::10, ::10], atol=0.03)


def test_the_ladder_with_xp_noise_has_the_claimed_snr_and_correlated_noise():
    noise = _toy_noise(4000)
    truth = np.ones((4000, 120))
    error = np.full_like(truth, 0.01)
    flux = truth + error * noise.unit_noise(np.random.default_rng(2))
    spectra = Spectra(flux, error, np.linspace(336, 1020, 120), np.zeros((4000, 0)), ())
    degraded, kept = degrade_to_snr(spectra, 20.0, np.random.default_rng(3), noise=noise)
    assert kept.all() and np.median(degraded.snr()) == pytest.approx(20.0, rel=0.01)
    residual = degraded.flux - truth
    assert np.median(1 / residual.std(axis=0)) == pytest.approx(20.0, rel=0.02)
    independent, _ = degrade_to_snr(spectra, 20.0, np.random.default_rng(3))
    neighbours = [np.corrcoef(r[:, 50], r[:, 51])[0, 1] for r in (residual, independent.flux - truth)]
    assert neighbours[0] > 0.5 and abs(neighbours[1]) < 0.1  # the XP noise is smooth, the other is not
    with pytest.raises(ValueError, match="not both"):
        degrade_to_snr(spectra, 20.0, np.random.default_rng(3), basis=np.eye(120)[:, :5], noise=noise)


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_the_conversion_bench_agrees_with_gaiaxpy_and_times_both(capsys):
    load_bench("xp_conversion").main(["--rows", "2000", "--chunk", "500", "--calibrate-rows", "20", "--repeat", "1",
                                      "--jobs", "2"])
    output = capsys.readouterr().out
    assert float(output.split("max flux = ")[1].split(";")[0]) < 1e-6
    assert float(output.split("gaiaxpy - 1| = ")[1].split()[0]) < 1e-5  # float32 errors (XPSampler)
    assert "gaiaxpy.calibrate: " in output and "2 one-thread processes at once" in output
    assert float(output.split("into the methods' input: ")[1].split()[0].replace(",", "")) > 0
