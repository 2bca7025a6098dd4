import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from labeltransfer.data.crossmatch import (crossmatch, decode_apogee_id, join_on_source_id, match_statistics,
                                      propagate_positions)


def test_decode_2mass_and_ap_ids():
    ra, dec, ok = decode_apogee_id(["2M14300843-6315371", "AP18122080-3134591", " 2M00000000+0000000 "])
    assert ok.tolist() == [True, True, True]
    assert ra[0] == pytest.approx(15 * (14 + 30 / 60 + 8.43 / 3600))
    assert dec[0] == pytest.approx(-(63 + 15 / 60 + 37.1 / 3600))
    assert ra[1] == pytest.approx(15 * (18 + 12 / 60 + 20.80 / 3600))
    assert dec[1] == pytest.approx(-(31 + 34 / 60 + 59.1 / 3600))
    assert (ra[2], dec[2]) == (0.0, 0.0)


def test_undecodable_ids_are_flagged_not_guessed():
    ra, dec, ok = decode_apogee_id(["VESTA", "2M14300843", "2M14700843-6315371", "2M14300843-9915371"])
    assert not ok.any()
    assert np.isnan(ra).all() and np.isnan(dec).all()


def test_crossmatch_nearest_within_radius_one_to_one():
    cat_ra = np.array([10.0, 20.0, 30.0])
    cat_dec = np.array([0.0, 0.0, 0.0])
    arcsec = 1 / 3600
    ra = np.array([10.0 + 0.3 * arcsec, 20.0 + 5 * arcsec, 30.0 + 0.2 * arcsec, 30.0 + 0.6 * arcsec, np.nan])
    dec = np.zeros(5)
    index, sep = crossmatch(ra, dec, cat_ra, cat_dec, radius_arcsec=1.0)
    # star 1 is 5" away: no match; stars 2 and 3 share entry 2, the closer (star 2) keeps it
    assert index.tolist() == [0, -1, 2, -1, -1]
    assert sep[0] == pytest.approx(0.3, abs=1e-3)
    assert sep[1] == pytest.approx(5.0, abs=1e-3)
    assert np.isnan(sep[4])
    stats = match_statistics(index, sep, np.isfinite(ra))
    assert stats["n_matched"] == 2 and stats["n_undecoded"] == 1
    assert stats["matched_fraction"] == pytest.approx(0.4)
    assert stats["separation_percentiles_arcsec"]["50"] == pytest.approx(0.25, abs=1e-3)


def test_source_id_join_is_exact_and_refuses_ambiguous_ids(caplog):
    index = join_on_source_id([5, 7, 9, 0, 11], [9, 5, 11, 11, 0, 3], what="Gaia XP")
    np.testing.assert_array_equal(index, [1, -1, 0, -1, -1])
    assert "Gaia XP: 1 source_ids appear more than once and are not matched (e.g. 11)" in caplog.text


def test_gaia_positions_move_to_the_other_epoch_and_then_match():
    rng = np.random.default_rng(4)
    ra, dec = rng.uniform(0, 360, 200), rng.uniform(-80, 80, 200)
    pmra, pmdec = rng.normal(0, 200, 200), rng.normal(0, 200, 200)  # mas/yr: fast, nearby stars
    pmra[0], pmdec[0] = 1000.0, 0.0
    pmdec[1] = np.nan  # no proper motion: stays in place
    ra2000, dec2000 = propagate_positions(ra, dec, pmra, pmdec, epoch=2000.0)
    # 16 yr x 1000 mas/yr = 16 arcsec westward along the great circle
    shift = SkyCoord(ra[0], dec[0], unit="deg").separation(SkyCoord(ra2000[0], dec2000[0], unit="deg")).arcsec
    assert shift == pytest.approx(16.0, rel=1e-3)
    assert (ra2000[1], dec2000[1]) == pytest.approx((ra[1], dec[1]))
    index, _ = crossmatch(ra2000, dec2000, ra2000 + 1e-5, dec2000, radius_arcsec=1.0)
    assert (index == np.arange(200)).all()
    unmoved, _ = crossmatch(ra, dec, ra2000, dec2000, radius_arcsec=1.0)
    assert (unmoved == -1).sum() > 150  # without the propagation most fast stars are lost


def test_ambiguous_positional_matches_are_reported(caplog):
    caplog.set_level("INFO")
    index, _ = crossmatch(np.array([10.0, 20.0]), np.array([0.0, 0.0]), np.array([10.0, 10.0001, 20.0]),
                          np.array([0.0, 0.0, 0.0]), radius_arcsec=1.0)
    np.testing.assert_array_equal(index, [0, 2])
    assert "1 sources have a second catalogue entry within 1 arcsec (ambiguous; the nearest is taken)" in caplog.text
