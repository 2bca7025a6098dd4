"""Reading the XP library and building the labelled sample, bad input included."""

import gzip

import numpy as np
import pandas as pd
import pytest

from labeltransfer.io.parallax_catalogue import CatalogueFormatError, read_parallax_catalogue
from labeltransfer.xp.library import LibraryFormatError, read_xp_library
from labeltransfer.data.sample import build_sample, feature_names
from labeltransfer.sources.xp_library import stars_from_xp_library
from library_factory import write_library, write_parallax_catalogue

LABELS = {
    "teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 20, "required": True},
    "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True},
    "fe_h": {"range": [-2.5, 0.7], "max_err": 0.2, "err_floor": 0.01, "required": False},
}
QUALITY = {"min_snr": 10, "max_masked_fraction": 0.1}


def _stars(path, label_names=tuple(LABELS)):
    """The xp_library adapter's record of a library file, with no parallaxes."""
    matches = path.with_suffix(".matches.csv")
    pd.DataFrame({"apogee_id": [], "parallax": [], "parallax_error": []}).to_csv(matches, index=False)
    return stars_from_xp_library(library=path, matches=matches, label_names=label_names)


def test_reads_library_and_drops_duplicate_ids(tmp_path):
    columns = write_library(tmp_path / "lib.fits", n_stars=50)
    ids = columns["apogee_id"].copy()
    ids[10] = ids[11]
    flux_error = columns["flux_error"].copy()
    flux_error[10] *= 0.5  # row 10 has the higher S/N: it is kept
    write_library(tmp_path / "dup.fits", n_stars=50, apogee_id=ids, flux_error=flux_error)
    table = read_xp_library(tmp_path / "dup.fits")
    assert len(table["apogee_id"]) == 49
    kept = np.flatnonzero(table["apogee_id"] == ids[11])
    assert table["flux_error"][kept[0], 0] == pytest.approx(flux_error[10, 0])
    assert table["flux"].shape == (49, 343) and table["wavelength"][[0, -1]].tolist() == [336, 1020]


def test_missing_column_is_named(tmp_path):
    write_library(tmp_path / "lib.fits", n_stars=20, drop=("teff_err",))
    with pytest.raises(LibraryFormatError, match=r"lib.fits: missing required column\(s\) teff_err"):
        read_xp_library(tmp_path / "lib.fits")


def test_truncated_file_is_named(tmp_path):
    write_library(tmp_path / "lib.fits", n_stars=200)
    data = (tmp_path / "lib.fits").read_bytes()
    (tmp_path / "cut.fits.gz").write_bytes(gzip.compress(data)[: len(data) // 20])
    with pytest.raises(LibraryFormatError, match="cut.fits.gz: .*truncated"):
        read_xp_library(tmp_path / "cut.fits.gz")


def test_corrupt_gzip_stream_is_named(tmp_path):
    write_library(tmp_path / "lib.fits", n_stars=200)
    damaged = bytearray(gzip.compress((tmp_path / "lib.fits").read_bytes()))
    damaged[30:70] = bytes(b ^ 0xA5 for b in damaged[30:70])  # zlib: invalid code lengths
    (tmp_path / "bad.fits.gz").write_bytes(bytes(damaged))
    with pytest.raises(LibraryFormatError, match=r"bad.fits.gz: cannot read the FITS file \(Error -3 .*corrupt"):
        read_xp_library(tmp_path / "bad.fits.gz")


def test_nonpositive_flux_errors_are_refused(tmp_path):
    columns = write_library(tmp_path / "ok.fits", n_stars=20)
    flux_error = columns["flux_error"].copy()
    flux_error[3, :5] = 0.0
    flux_error[4, 7] = -1.0
    write_library(tmp_path / "bad.fits", n_stars=20, flux_error=flux_error)
    with pytest.raises(LibraryFormatError, match="bad.fits: flux_error must be positive; 6 pixels in 2 stars"):
        read_xp_library(tmp_path / "bad.fits")


def test_sample_masks_labels_and_cuts_bad_spectra(tmp_path):
    columns = write_library(tmp_path / "ok.fits", n_stars=100)
    flux, fe_h, teff = columns["flux"].copy(), columns["fe_h"].copy(), columns["teff"].copy()
    flux[0] = np.nan  # all-NaN spectrum
    fe_h[1] = np.nan  # missing label: masked, star kept
    fe_h[2] = 3.0  # outside its range: masked
    teff[3] = 9000  # required label outside its range: star removed
    write_library(tmp_path / "lib.fits", n_stars=100, flux=flux, fe_h=fe_h, teff=teff)
    stars = _stars(tmp_path / "lib.fits")
    assert stars.provenance["source"] == "xp_library" and len(stars.provenance["files"][0]["sha256"]) == 64
    assert np.isnan(stars.parallax).all()
    sample = build_sample(stars, LABELS, QUALITY, ["bp_rp", "g_h"])
    ids = columns["apogee_id"]
    assert ids[0] not in sample.apogee_id and ids[3] not in sample.apogee_id
    assert len(sample.apogee_id) == 98
    fe = sample.labels[:, 2]
    assert np.isnan(fe[sample.rows_of([ids[1], ids[2]])]).all()
    assert np.isfinite(fe).sum() == 96
    assert sample.label_err[:, 0].min() == 20  # error floor
    assert sample.spectra.aux_names == ("bp_rp", "g_h", "parallax", "reduced_parallax_h")
    rows = [list(ids).index(i) for i in sample.apogee_id]
    expected = columns["gaiaedr3_phot_bp_mean_mag"][rows] - columns["gaiaedr3_phot_rp_mean_mag"][rows]
    assert np.allclose(sample.spectra.aux_column("bp_rp"), expected, atol=1e-5)
    assert np.all(sample.snr > 50)


def test_all_spectra_bad_is_an_error_naming_the_file(tmp_path):
    write_library(tmp_path / "nan.fits", n_stars=10, flux=np.full((10, 343), np.nan))
    stars = _stars(tmp_path / "nan.fits")
    with pytest.raises(ValueError, match=r"xp_library \(.*nan.fits, .*\): no spectrum has enough finite pixels"):
        build_sample(stars, LABELS, QUALITY, [])


def test_a_label_the_library_lacks_is_named(tmp_path):
    write_library(tmp_path / "lib.fits", n_stars=20)
    with pytest.raises(KeyError, match=r"xp_library has no label mg_fe \(files: .*lib.fits"):
        _stars(tmp_path / "lib.fits", label_names=["teff", "mg_fe"])


def test_parallax_catalogue_sentinels_and_missing_arrays(tmp_path):
    write_parallax_catalogue(tmp_path / "p.npz", [1.0, 2.0], [3.0, 4.0], [0.5, np.nan])
    cat = read_parallax_catalogue(tmp_path / "p.npz")
    assert cat["parallax"][0] == 0.5 and np.isnan(cat["parallax"][1]) and np.isnan(cat["parallax_error"][1])
    np.savez(tmp_path / "bad.npz", RA=[1.0], DEC=[2.0])
    with pytest.raises(CatalogueFormatError, match="bad.npz: missing required array"):
        read_parallax_catalogue(tmp_path / "bad.npz")


def test_feature_sets():
    assert feature_names("flux", ["bp_rp"]) == []
    assert feature_names("flux_colours", ["bp_rp", "g_h"]) == ["bp_rp", "g_h"]
    assert feature_names("flux_colours_parallax", ["bp_rp"]) == ["bp_rp", "parallax", "reduced_parallax_h"]
    with pytest.raises(KeyError, match="unknown feature set"):
        feature_names("flux_magic", [])
