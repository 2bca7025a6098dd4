"""Readers of the public archives' files: APOGEE allStar, LAMOST spectra and catalogue, Gaia
XP continuous.

Each reader is tested on generated files in the real formats and, where ../shared/fixtures
exists, on the unmodified real files.
"""

import numpy as np
import pytest
from astropy.io import fits

from conftest import SHARED_FIXTURES
from labeltransfer.io.allstar import AllStarFormatError, read_allstar
from labeltransfer.xp.basis import XPSampler
from labeltransfer.xp.bulk import XPBulkFormatError, read_xp_blocks
from labeltransfer.xp.continuous import read_xp_continuous
from labeltransfer.xp.flux import normalised_xp_flux
from labeltransfer.io.lamost import LamostFormatError, read_lamost_spectrum
from labeltransfer.io.lamost_catalogue import LamostCatalogueError, read_lamost_catalogue
from labeltransfer.xp.library import XP_WAVELENGTH
from survey_factory import allstar_rows, write_allstar, write_lamost_dr10, write_lamost_image, write_xp_continuous

REAL = SHARED_FIXTURES / "real"
needs_real = pytest.mark.skipif(not REAL.exists(), reason="../shared/fixtures/real is not here")
LABELS = ["teff", "logg", "fe_h", "alpha_m", "mg_fe"]


def test_allstar_cuts_and_masks_are_applied_and_counted(tmp_path, caplog):
    columns = allstar_rows(10)
    columns["ASPCAPFLAGS"][1] = "LOGG_WARN,STAR_BAD"
    columns["ASPCAPFLAGS"][2] = "STAR_WARN"  # a warning only: kept
    columns["STARFLAGS"][3] = "VERY_BRIGHT_NEIGHBOR,PERSIST_LOW"
    columns["EXTRATARG"][4] = 16  # bit 4: a duplicate
    columns["SNR"][5] = 20.0
    columns["FE_H_FLAG"][6] = 1
    columns["MG_FE"][7] = np.nan
    columns["ALPHA_M"][8] = -9999.0
    write_allstar(tmp_path / "allStar.fits", columns)
    caplog.set_level("INFO")
    table = read_allstar(tmp_path / "allStar.fits", LABELS, bad_starflags=["VERY_BRIGHT_NEIGHBOR"], min_snr=40)
    kept = set(table["apogee_id"])
    assert kept == {columns["APOGEE_ID"][i] for i in (0, 2, 6, 7, 8, 9)}
    row = table.set_index("apogee_id")
    assert np.isnan(row.loc[columns["APOGEE_ID"][6], "fe_h"]) and np.isnan(row.loc[columns["APOGEE_ID"][6], "fe_h_err"])
    assert np.isnan(row.loc[columns["APOGEE_ID"][7], "mg_fe"]) and np.isnan(row.loc[columns["APOGEE_ID"][8], "alpha_m"])
    assert row.loc[columns["APOGEE_ID"][6], "teff"] == pytest.approx(columns["TEFF"][6])
    for message in ("removed 1 stars: ASPCAPFLAGS has STAR_BAD", "removed 1 stars: STARFLAGS has VERY_BRIGHT_NEIGHBOR",
                    "removed 1 stars: EXTRATARG duplicate", "removed 1 stars: SNR below 40",
                    "fe_h masked for 1 stars (FE_H_FLAG non-zero)"):
        assert message in caplog.text


def test_allstar_duplicate_ids_keep_the_highest_snr_row(tmp_path):
    columns = allstar_rows(4)
    columns["APOGEE_ID"][1] = columns["APOGEE_ID"][0]
    columns["SNR"][:2] = [80.0, 120.0]
    write_allstar(tmp_path / "allStar.fits", columns)
    table = read_allstar(tmp_path / "allStar.fits", LABELS)
    assert len(table) == 3 and table["snr"].iloc[0] == pytest.approx(120.0)


def test_allstar_missing_columns_are_all_named(tmp_path):
    write_allstar(tmp_path / "allStar.fits", allstar_rows(5), drop=("MG_FE_ERR", "GAIAEDR3_SOURCE_ID"))
    with pytest.raises(AllStarFormatError, match=r"allStar\.fits: missing required column\(s\) GAIAEDR3_SOURCE_ID, MG_FE_ERR"):
        read_allstar(tmp_path / "allStar.fits", LABELS)


def test_truncated_allstar_is_a_clear_error(tmp_path):
    write_allstar(tmp_path / "full.fits", allstar_rows(200))
    data = (tmp_path / "full.fits").read_bytes()
    (tmp_path / "allStar.fits").write_bytes(data[: len(data) // 2])
    with pytest.raises(AllStarFormatError, match=r"allStar\.fits: .*(truncated|corrupt)"):
        read_allstar(tmp_path / "allStar.fits", LABELS)


@needs_real
def test_real_allstar_subset_is_read():
    table = read_allstar(REAL / "apogee" / "allStar-dr17-subset-montalban2021.fits", LABELS, min_snr=70)
    assert len(table) == 86  # 95 stars: 1 STAR_BAD, 8 below SNR 70
    first = table.iloc[0]
    assert first["apogee_id"] == "2M19261694+3745527" and first["telescope"] == "apo25m"
    assert first["source_id"] == 2052553983024456192
    assert first["teff"] == pytest.approx(4800.777, abs=1e-3) and first["mg_fe"] == pytest.approx(0.383873, abs=1e-6)
    assert first["parallax"] == pytest.approx(0.90838, abs=1e-5)


@pytest.mark.parametrize("writer, layout", [(write_lamost_dr10, "COADD table"), (write_lamost_image, "primary image")])
def test_lamost_layouts_give_the_same_spectrum(tmp_path, writer, layout):
    writer(tmp_path / "spec.fits", obsid=42, ra=10.5, dec=-3.25)
    spectrum = read_lamost_spectrum(tmp_path / "spec.fits")
    assert spectrum.layout == layout and spectrum.obsid == 42
    assert (spectrum.ra, spectrum.dec) == (10.5, -3.25) and spectrum.snr["g"] == 20.0
    assert spectrum.ivar[100] == 0 and spectrum.flux[100] == 0 and np.all(spectrum.ivar[:100] > 0)
    assert spectrum.wavelength[0] == pytest.approx(3699.98, abs=0.01) and spectrum.flux.size == 3909


def test_lamost_unknown_layout_names_what_was_found(tmp_path):
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros(10), name="FLUX")]).writeto(tmp_path / "odd.fits")
    with pytest.raises(LamostFormatError, match=r"odd\.fits: unknown LAMOST layout .*found PRIMARY .*FLUX ImageHDU"):
        read_lamost_spectrum(tmp_path / "odd.fits")


def test_lamost_truncated_file_and_missing_keyword(tmp_path):
    write_lamost_dr10(tmp_path / "spec.fits")
    data = (tmp_path / "spec.fits").read_bytes()
    (tmp_path / "cut.fits").write_bytes(data[:5000])
    with pytest.raises(LamostFormatError, match=r"(?s)cut\.fits: .*truncated"):
        read_lamost_spectrum(tmp_path / "cut.fits")
    with fits.open(tmp_path / "spec.fits") as hdul:
        del hdul[0].header["SNRG"]
        hdul.writeto(tmp_path / "nosnr.fits")
    with pytest.raises(LamostFormatError, match=r"nosnr\.fits: header: missing required keyword\(s\) SNRG"):
        read_lamost_spectrum(tmp_path / "nosnr.fits")


@needs_real
@pytest.mark.parametrize("obsid, snr_g", [(3703110, 19.35), (3706009, 21.37), (3706011, 18.12)])
def test_real_lamost_dr10_spectra_are_read(obsid, snr_g):
    spectrum = read_lamost_spectrum(REAL / "lamost" / f"{obsid}.fits")
    assert spectrum.obsid == obsid and spectrum.layout == "COADD table" and spectrum.snr["g"] == snr_g
    assert spectrum.flux.size == 3909 and 3699 < spectrum.wavelength[0] < 3701 and 9098 < spectrum.wavelength[-1] < 9100
    step = np.diff(np.log10(spectrum.wavelength))
    np.testing.assert_allclose(step, 1e-4, rtol=1e-3)  # log-linear grid
    assert np.isfinite(spectrum.flux).all() and (spectrum.ivar >= 0).all()


def test_xp_continuous_is_sampled_on_the_library_grid(tmp_path, caplog):
    write_xp_continuous(tmp_path / "xp.csv", [11, 12, 13, 14], no_bp=[12], no_coefficients=[13])
    caplog.set_level("INFO")
    xp = read_xp_continuous(tmp_path / "xp.csv")
    np.testing.assert_array_equal(xp["source_id"], [11, 12, 14])
    np.testing.assert_array_equal(xp["wavelength"], XP_WAVELENGTH)
    assert list(xp["missing_band"]) == ["", "bp", ""]
    assert xp["flux"].shape == (3, 343) and xp["flux"].dtype == xp["flux_error"].dtype == np.float32
    assert np.isfinite(xp["flux_error"][[0, 2]]).all()
    np.testing.assert_allclose(np.median(xp["flux"][[0, 2]], axis=1), 1.0)  # divided by the median
    # no BP: every pixel BP reaches masked (flux 0, error inf), the median that of the rest
    assert np.isinf(xp["flux_error"][1, :154]).all() and (xp["flux"][1, :154] == 0).all()
    assert np.isfinite(xp["flux_error"][1, 154:]).all() and np.median(xp["flux"][1, 154:]) == pytest.approx(1.0)
    assert "1 sources without BP and RP coefficients left out" in caplog.text
    assert "1 sources have no usable BP spectrum" in caplog.text


def test_xp_continuous_takes_the_survey_s_route(tmp_path):
    """The archive tasks' spectra are the survey's: normalised_xp_flux of the XP reader's arrays, bit for bit."""
    write_xp_continuous(tmp_path / "xp.csv", [11, 12, 13, 14], no_bp=[12], seed=3)
    block = next(read_xp_blocks(tmp_path / "xp.csv"))
    flux, flux_error, usable = normalised_xp_flux(XPSampler(XP_WAVELENGTH), block.coefficients, block.errors,
                                                  block.correlations)
    xp = read_xp_continuous(tmp_path / "xp.csv")
    np.testing.assert_array_equal(xp["source_id"], block.source_id)
    np.testing.assert_array_equal(xp["flux"], flux)
    np.testing.assert_array_equal(xp["flux_error"], flux_error)
    np.testing.assert_array_equal(xp["missing_band"] == "bp", ~usable[:, 0])


def test_xp_continuous_bad_input_is_named(tmp_path):
    write_xp_continuous(tmp_path / "none.csv", [1, 2], no_coefficients=[1, 2])
    with pytest.raises(XPBulkFormatError, match=r"no XP spectrum with a usable band in .*none\.csv"):
        read_xp_continuous(tmp_path / "none.csv")
    (tmp_path / "cols.csv").write_text("source_id,bp_coefficients\n1,\"(1.0)\"\n")
    with pytest.raises(XPBulkFormatError, match=r"cols\.csv: missing required column\(s\) bp_coefficient_errors"):
        read_xp_continuous(tmp_path / "cols.csv")


def test_xp_continuous_repeated_sources_are_read_once(tmp_path, caplog):
    write_xp_continuous(tmp_path / "a.csv", [1, 2], seed=1)
    write_xp_continuous(tmp_path / "b.csv", [2, 3, 3, 4], seed=2)  # blocks [2, 3, 3] and [4]
    xp = read_xp_continuous([tmp_path / "a.csv", tmp_path / "b.csv"], block_rows=3)
    np.testing.assert_array_equal(xp["source_id"], [1, 2, 3, 4])
    np.testing.assert_array_equal(xp["flux"][:2], read_xp_continuous(tmp_path / "a.csv")["flux"])  # the first kept
    assert "2 rows repeat a source_id already read (e.g. 2)" in caplog.text


@needs_real
def test_real_xp_continuous_rows_are_sampled():
    folder = REAL / "gaia_xp"
    xp = read_xp_continuous([folder / "XP_CONTINUOUS_RAW.csv", folder / "XP_CONTINUOUS_RAW_with_missing_BP.csv"])
    assert list(xp["source_id"]) == [5853498713190525696, 5762406957886626816, 5405570973190252288]
    assert list(xp["missing_band"]) == ["", "", "bp"]
    assert np.isinf(xp["flux_error"][2]).sum() == 154 and np.isfinite(xp["flux_error"][:2]).all()
    assert np.all(xp["flux_error"][:2] > 0)


def test_lamost_catalogue_with_repeats_bad_rows_and_redshift(tmp_path, caplog):
    (tmp_path / "cat.csv").write_text(
        "obsid,designation,ra,dec,snrg,snrr,z,gaia_source_id\n"
        "101,J1,10.0,-5.0,30.0,45.0,1e-4,555\n"
        "101,J1,10.0,-5.0,30.0,45.0,1e-4,555\n"
        "102,J2,11.0,-5.5,4.0,6.0,0.0,\n"
        "103,J3,,-5.5,40.0,60.0,0.0,777\n"
        "104,J4,12.0,-6.0,80.0,90.0,-2e-4,888\n")
    caplog.set_level("INFO")
    table = read_lamost_catalogue(tmp_path / "cat.csv", min_snr=10)
    assert list(table["obsid"]) == [101, 104] and list(table["source_id"]) == [555, 888]
    assert table["rv"].iloc[0] == pytest.approx(29.979, abs=1e-3)
    for message in ("1 rows without a numeric obsid, ra or dec", "1 rows repeat an obsid (e.g. 101)",
                    "1 spectra below snrg 10"):
        assert message in caplog.text


def test_lamost_missing_values_are_never_used_and_gaia_ids_stay_exact(tmp_path, caplog):
    """LAMOST writes -9999 for a missing value; a blank Gaia id must not turn the column into floats."""
    (tmp_path / "cat.csv").write_text(
        "obsid|ra|dec|snrg|snrr|rv|z|gaia_source_id\n"
        "201|10.0|-5.0|30.0|45.0|-9999.00|1e-4|2052553983024456192\n"
        "202|11.0|-5.5|40.0|60.0|-9999.00|-9999.0|\n"
        "203|12.0|-6.0|-9999.00|80.0|12.5|4e-5|-9999\n"
        "204|13.0|-6.5|50.0|70.0|-20.0|-7e-5|4295806720\n")
    caplog.set_level("INFO")
    table = read_lamost_catalogue(tmp_path / "cat.csv", min_snr=0)
    assert list(table["obsid"]) == [201, 202, 204]  # 203: snrg -9999 passes no cut, not even 0
    assert table["source_id"].dtype == np.int64
    assert list(table["source_id"]) == [2052553983024456192, -1, 4295806720]  # exact to the last digit
    assert table["rv"].iloc[0] == pytest.approx(29.979, abs=1e-3)  # rv -9999: z used instead
    assert np.isnan(table["rv"].iloc[1]) and table["rv"].iloc[2] == -20.0
    for message in ("1 spectra without a g-band S/N (snrg missing or -9999)", "1 spectra without a velocity",
                    "3 spectra, 1 of them without a Gaia source_id"):
        assert message in caplog.text


def test_lamost_redshift_of_minus_9999_is_missing(tmp_path):
    write_lamost_dr10(tmp_path / "spec.fits", redshift=-9999.0)
    spectrum = read_lamost_spectrum(tmp_path / "spec.fits")
    assert np.isnan(spectrum.redshift) and spectrum.snr["g"] == 20.0


def test_lamost_catalogue_without_required_columns(tmp_path):
    (tmp_path / "cat.csv").write_text("obsid,ra,dec\n1,2,3\n")
    with pytest.raises(LamostCatalogueError, match=r"cat\.csv: missing required column\(s\) snrg, snrr"):
        read_lamost_catalogue(tmp_path / "cat.csv")


def test_best_row_per_id_keeps_the_highest_score_then_the_first_in_order():
    from labeltransfer.io.tables import best_row_per_id

    ids = ["b", "a", "b", "c", "a", "b"]
    score = [1.0, np.nan, 3.0, 0.0, 2.0, 3.0]
    np.testing.assert_array_equal(best_row_per_id(ids, score), [2, 3, 4])  # b: the first 3.0; a: 2.0 beats NaN
