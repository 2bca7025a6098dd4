import numpy as np
import pytest

from labeltransfer.crossmatch import crossmatch, decode_apogee_id, match_statistics


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
