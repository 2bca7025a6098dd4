"""The S/N ladder: the S/N it claims is the S/N the noise has, the noise has XP's correlations, the
colours and parallax are those of a fainter star, and the table has every type of star."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.data.spectra import Spectra
from labeltransfer.diagnostics.degrade import (MAX_BAND_ERROR, band_errors, degrade_to_snr, fainter_features,
                                              snr_at_magnitudes, snr_slope)
from labeltransfer.diagnostics.plots import snr_ladder as snr_ladder_figure
from labeltransfer.pipeline.snr_ladder import TEFF_SPLIT, TYPE_SUBSETS, ladder_metrics
from labeltransfer.xp.basis import design_matrix
from labeltransfer.xp.covariance_template import template_factor
from labeltransfer.xp.library import XP_WAVELENGTH
from labeltransfer.xp.noise import XPNoise, pixel_scale


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


def _template_spectra(n_stars, snr):
    """Spectra on the XP library's grid with per-pixel errors (1 / snr of a smooth flux) and the
    template noise model; the flux is the truth (noiseless): the added noise shows."""
    wavelength = XP_WAVELENGTH
    truth = np.repeat((1.0 + 0.3 * np.sin(np.linspace(0, 6, len(wavelength))))[None], n_stars, axis=0)
    spectra = Spectra(truth.copy(), truth / snr, wavelength, np.zeros((n_stars, 0)), ())
    return spectra, XPNoise(design_matrix(wavelength), template_factor())


def test_the_library_s_ladder_noise_has_the_template_s_covariance_scaled_to_each_pixel_s_need():
    n_draws, snr, target = 20_000, 200.0, 20.0
    spectra, noise = _template_spectra(n_draws, snr)  # one star, drawn many times
    degraded, kept = degrade_to_snr(spectra, target, np.random.default_rng(5), noise=noise)
    assert kept.all()
    added = degraded.flux - spectra.flux
    wanted = spectra.flux_error[0] * np.sqrt((snr / target) ** 2 - 1)  # each pixel's added sigma
    # the target covariance: the template's pixel covariance D L L^T D^T rescaled to those sigmas
    factor = design_matrix(XP_WAVELENGTH) @ template_factor()
    covariance = factor @ factor.T
    scale = wanted / np.sqrt(np.diag(covariance))
    target_covariance = covariance * np.outer(scale, scale)
    sample_covariance = np.cov(added.T)
    # each pixel's variance is the required one (sampling error of a variance: sqrt(2 / n) = 1%)
    np.testing.assert_allclose(np.diag(sample_covariance), wanted ** 2, rtol=0.05)
    # every covariance within its sampling error: sd of cov_ij = sqrt((S_ii S_jj + S_ij^2) / n)
    sampling = np.sqrt((np.outer(np.diag(target_covariance), np.diag(target_covariance)) + target_covariance ** 2)
                       / n_draws)
    assert np.abs(sample_covariance - target_covariance).max() < 5 * sampling.max()
    assert np.mean(np.abs(sample_covariance - target_covariance) < 3 * sampling) > 0.99
    assert np.median(degraded.snr()) == pytest.approx(target, rel=0.01)


def test_the_bound_and_the_ladder_share_the_pixel_rescaling():
    noise_error = np.array([1.0, 2.0, 0.0])
    np.testing.assert_allclose(pixel_scale(noise_error, np.array([[2.0, 2.0, 0.0]])), [[2.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="no noise"):
        pixel_scale(noise_error, np.array([[1.0, 1.0, 1.0]]), sources=np.array([7]))


def _star_features(n_stars, g_mag):
    """Spectra whose auxiliary features are the default colours and the parallaxes of stars of G = g_mag."""
    bands = {"g": g_mag, "bp": g_mag + 0.6, "rp": g_mag - 0.8, "j": g_mag - 2.0, "h": g_mag - 2.6, "k": g_mag - 2.7}
    colours = ["bp_rp", "g_rp", "bp_g", "g_j", "g_h", "g_k", "j_h", "h_k"]
    columns = [bands[c.split("_")[0]] - bands[c.split("_")[1]] for c in colours]
    parallax = np.full(n_stars, 1.0)
    columns += [parallax, parallax * 10 ** (0.2 * bands["h"]) / 100.0]
    aux = np.column_stack(columns)
    spectra = Spectra(np.ones((n_stars, 3)), np.ones((n_stars, 3)), np.arange(3.0), aux,
                      (*colours, "parallax", "reduced_parallax_h"))
    return spectra, bands


def test_colours_and_parallax_get_the_noise_of_a_fainter_star():
    n_stars, dm = 40_000, 4.0
    g_mag = np.full(n_stars, 12.0)
    spectra, bands = _star_features(n_stars, g_mag)
    fainter = fainter_features(spectra, g_mag, np.full(n_stars, dm), np.random.default_rng(2))
    change = {name: fainter.aux_column(name) - spectra.aux_column(name) for name in spectra.aux_names}

    def added(band, magnitude=None, shift=dm):
        shifted = None if magnitude is None else magnitude + shift
        return np.sqrt(band_errors(band, g_mag + shift, shifted) ** 2 - band_errors(band, g_mag, magnitude) ** 2)[0]

    expected = {"bp_rp": np.hypot(added("bp"), added("rp")), "g_rp": np.hypot(added("g"), added("rp")),
                "j_h": np.hypot(added("j", bands["j"]), added("h", bands["h"])), "parallax": added("parallax")}
    for name, sigma in expected.items():
        assert np.std(change[name]) == pytest.approx(sigma, rel=0.03), name
    # a shared band's noise is shared: bp_rp - g_rp = bp - g, with no rp noise
    np.testing.assert_allclose(np.std(change["bp_rp"] - change["g_rp"]), np.hypot(added("bp"), added("g")), rtol=0.03)
    # the parallax grows from 0.025 mas (G = 12) to that of G = 16: 0.044 mas
    assert added("parallax") == pytest.approx(np.sqrt(band_errors("parallax", [16.0])[0] ** 2 - 0.025 ** 2))
    # the reduced parallax follows the noisy parallax and H
    assert np.all(np.isfinite(fainter.aux_column("reduced_parallax_h")))
    assert np.corrcoef(fainter.aux_column("reduced_parallax_h"), fainter.aux_column("parallax"))[0, 1] > 0.9


def test_a_2mass_band_beyond_its_limit_keeps_a_value_with_a_capped_error_and_gaia_is_extrapolated():
    g_mag = np.array([12.0, 12.0, 12.0])
    spectra, bands = _star_features(3, g_mag)  # K = 9.3, H = 9.4, J = 10
    fainter = fainter_features(spectra, g_mag, np.array([1.0, 9.0, 1e4]), np.random.default_rng(0))
    assert np.all(np.isfinite(fainter.aux))  # every feature has a value, however faint (at most MAX_FAINTER)
    assert band_errors("h", [16.0], [13.4])[0] == pytest.approx(np.hypot(0.02, 1.0857 / 47.9), rel=0.01)  # S/N 48
    assert band_errors("h", g_mag[1:2] + 9, bands["h"][1:2] + 9)[0] == MAX_BAND_ERROR  # H = 18.4: S/N 0.5
    assert band_errors("h", [20.0], [30.0])[0] == MAX_BAND_ERROR and band_errors("bp", [30.0])[0] == MAX_BAND_ERROR
    assert band_errors("parallax", [22.0])[0] == pytest.approx(1.3 * (1.3 / 0.5))  # the last segment, extended


def test_snr_at_magnitudes_fits_only_the_monotone_part_of_the_relation(rng):
    g_mag = rng.uniform(8, 15, 20_000)
    faint = 10 ** (3.5 - 0.12 * g_mag)  # falls beyond G = 10
    snr = np.where(g_mag < 10, 10 ** (3.5 - 0.12 * 10) * 10 ** (0.3 * (g_mag - 10)), faint)  # rises below
    snr *= np.exp(0.05 * rng.standard_normal(len(g_mag)))
    assert snr_slope(snr, g_mag) == pytest.approx(0.12, rel=0.05)
    expected = 10 ** (3.5 - 0.12 * np.array([15.0, 16.0, 17.0]))
    np.testing.assert_allclose(snr_at_magnitudes(snr, g_mag, [15, 16, 17]), expected, rtol=0.05)
    rising = snr_at_magnitudes(10 ** (0.1 * g_mag), g_mag, [15])  # never falls: no relation
    assert np.isnan(rising).all() and np.isnan(snr_slope(10 ** (0.1 * g_mag), g_mag))


def _ladder_table(rng, n_stars=400):
    """Ladder predictions of two methods at two levels, Teff and logg spread over the four types."""
    teff = rng.uniform(3800, 6000, n_stars)
    logg = rng.uniform(1.0, 5.0, n_stars)
    parts = []
    for level in (10, 50):
        parts.append(pd.DataFrame({"level": level, "apogee_id": np.arange(n_stars).astype(str), "logg_ref": logg,
                                   "teff_ref": teff, "teff": teff + rng.normal(0, 1000 / level, n_stars),
                                   "teff_err": 1000 / level, "logg": logg + rng.normal(0, 1 / level, n_stars),
                                   "logg_err": 1 / level}))
    table = pd.concat(parts, ignore_index=True)
    return {"knn": table, "mlp": table.assign(teff=table["teff"] + 5)}


def test_the_ladder_table_has_every_type_of_star(rng):
    predictions = _ladder_table(rng)
    table = ladder_metrics(predictions, ["teff", "logg"], seed=0)
    subsets = ["all", "giants", "dwarfs", *TYPE_SUBSETS]
    assert sorted(table["subset"].unique()) == sorted(subsets)
    assert len(table) == 2 * 2 * len(subsets) * 2  # methods x levels x subsets x labels
    n = table[(table["method"] == "knn") & (table["level"] == 10) & (table["label"] == "teff")].set_index("subset")["n"]
    teff, logg = predictions["knn"]["teff_ref"][:400], predictions["knn"]["logg_ref"][:400]
    assert n["cool_giants"] == ((teff < TEFF_SPLIT) & (logg < 3.5)).sum()
    assert n["cool"] + n["warm"] == n["all"] == 400
    assert n["cool_giants"] + n["cool_dwarfs"] == n["cool"]
    scatter = table[(table["method"] == "knn") & (table["label"] == "teff") & (table["subset"] == "warm_dwarfs")]
    assert scatter.set_index("level")["scatter"][10] > 3 * scatter.set_index("level")["scatter"][50]
    figure = snr_ladder_figure(table, pd.DataFrame({"g_mag": [15.0], "snr": [57.0]}), ["teff", "logg"])
    assert len(figure.axes) == 2 * 6  # four types' scatter, bias, calibration
