"""The source adapters: allStar labels joined to archive spectra (Gaia XP by source_id; LAMOST by
source_id or on the sky) as one typed record, then through the same cuts and features as the
default library; the record refuses inconsistent columns."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.io.allstar import read_allstar
from labeltransfer.xp.continuous import read_xp_continuous
from labeltransfer.io.lamost import read_lamost_spectrum
from labeltransfer.data.resampling import SPEED_OF_LIGHT_KMS, log_linear_grid
from labeltransfer.data.sample import build_sample
from labeltransfer.sources import read_stars
from labeltransfer.sources.apogee import EmptyMatchError
from labeltransfer.sources.files import write_manifest
from labeltransfer.sources.gaia import join_gaia_spectra
from labeltransfer.sources.lamost import join_lamost, lamost_on_grid, match_lamost
from labeltransfer.data.stars import SourceStars
from survey_factory import allstar_rows, write_allstar, write_lamost_dr10, write_xp_continuous

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True},
          "fe_h": {"range": [-2.5, 0.7], "max_err": 0.2, "err_floor": 0.01, "required": False}}
QUALITY = {"min_snr": 5, "max_masked_fraction": 0.1}


def _provenance(source):
    return {"source": source, "release": "none (tests)", "files": []}


@pytest.fixture
def allstar(tmp_path):
    columns = allstar_rows(12, seed=2)
    columns["GAIAEDR3_SOURCE_ID"] = np.arange(1, 13, dtype=np.int64) * 100
    write_allstar(tmp_path / "allStar.fits", columns)
    return read_allstar(tmp_path / "allStar.fits", list(LABELS))


def test_xp_spectra_join_on_source_id_and_build_a_sample(allstar, tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [100, 300, 500, 9999], no_bp=[500])
    stars = join_gaia_spectra(allstar, read_xp_continuous(tmp_path / "xp.csv"), list(LABELS), _provenance("gaia_xp"))
    assert list(stars.source_id) == [100, 300, 500] and stars.spectra.flux.shape == (3, 343)
    assert stars.label("teff")[0][1] == pytest.approx(allstar["teff"][2])
    assert stars.parallax[2] == pytest.approx(allstar["parallax"][4])
    sample = build_sample(stars, LABELS, QUALITY, ["bp_rp", "g_h"])
    assert list(sample.apogee_id) == list(allstar["apogee_id"][[0, 2]])  # no BP: 45% of pixels masked, cut
    assert sample.spectra.aux_names == ("bp_rp", "g_h", "parallax", "reduced_parallax_h")
    assert sample.spectra.aux[0, 2] == pytest.approx(allstar["parallax"][0])
    assert sample.provenance == _provenance("gaia_xp")


def test_the_gaia_xp_adapter_reads_the_task_files_and_records_their_checksums(allstar, tmp_path):
    allstar.to_csv(tmp_path / "labels.csv", index=False)
    write_xp_continuous(tmp_path / "xp.csv", [100, 300])
    write_manifest([tmp_path / "xp.csv"], tmp_path / "manifest.csv")
    stars = read_stars("gaia_xp", {"labels": tmp_path / "labels.csv", "spectra": tmp_path / "manifest.csv"},
                       label_names=["teff", "logg"], lamost={})
    assert list(stars.apogee_id) == list(allstar["apogee_id"][[0, 2]]) and stars.label_names == ("teff", "logg")
    labels_file, manifest = stars.provenance["files"]
    assert labels_file["path"].endswith("labels.csv") and len(labels_file["sha256"]) == 64
    assert manifest["n_files"] == 1 and "Gaia DR3 XP" in stars.provenance["release"]
    with pytest.raises(KeyError, match="unknown source 'gaia_bp'; sources are xp_library, gaia_xp"):
        read_stars("gaia_bp", {}, label_names=["teff"], lamost={})


def test_no_common_star_is_a_clear_error(allstar, tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [7, 8])
    with pytest.raises(EmptyMatchError, match=r"no allStar star has one of the 2 gaia_xp spectra"):
        join_gaia_spectra(allstar, read_xp_continuous(tmp_path / "xp.csv"), list(LABELS), _provenance("gaia_xp"))


def test_a_record_with_inconsistent_columns_names_them(allstar, tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [100, 300])
    stars = join_gaia_spectra(allstar, read_xp_continuous(tmp_path / "xp.csv"), list(LABELS), _provenance("gaia_xp"))
    fields = {name: getattr(stars, name) for name in SourceStars.__dataclass_fields__}
    with pytest.raises(ValueError, match=r"gaia_xp: a record of 2 stars, but parallax has 3; photometry has bands "
                                         r"g, bp, h, j, k, not g, bp, rp, j, h, k"):
        SourceStars(**fields | {"parallax": np.ones(3), "photometry": {b: stars.photometry[b] for b in "g bp h j k".split()}})
    with pytest.raises(KeyError, match="unknown colour 'g_v': bands are g, bp, rp, j, h, k"):
        stars.colour("g_v")


def test_lamost_spectra_match_by_id_or_moved_position_and_build_a_sample(allstar, tmp_path):
    ra, dec = allstar["ra"].to_numpy(), allstar["dec"].to_numpy()
    # Gaia positions at 2016 of stars moving 100 mas/yr in dec; LAMOST positions at 2000
    gaia = pd.DataFrame({"source_id": allstar["source_id"], "ra": ra, "dec": dec + 1.6 / 3600,
                         "pmra": 0.0, "pmdec": 100.0})
    catalogue = pd.DataFrame({
        "obsid": [1, 2, 3, 4, 5], "ra": [ra[0], ra[1], ra[1], ra[3] + 0.01, ra[4]],
        "dec": [dec[0] + 1, dec[1], dec[1], dec[3], dec[4]], "snr_g": [30.0, 20.0, 60.0, 50.0, 40.0],
        "snr_r": 50.0, "rv": 0.0, "source_id": [100, -1, -1, -1, -1]})
    matches = match_lamost(allstar, catalogue, gaia, radius_arcsec=1.0, epoch=2000.0)
    assert list(matches["obsid"]) == [1, 3, 5]  # by id despite the position; star 1's best spectrum; star 3 too far
    assert list(matches["how"]) == ["source_id", "position", "position"]
    assert matches["separation_arcsec"].iloc[1] < 0.01  # the propagation undid the 1.6 arcsec
    unmoved = gaia.assign(pmdec=0.0)
    assert list(match_lamost(allstar, catalogue, unmoved, 1.0, 2000.0)["obsid"]) == [1]

    for obsid in (1, 3, 5):
        write_lamost_dr10(tmp_path / f"{obsid}.fits", obsid=obsid, seed=obsid)
    grid = log_linear_grid(3900.0, 8800.0, 1e-4)
    spectra = lamost_on_grid([read_lamost_spectrum(tmp_path / f"{o}.fits") for o in (1, 3, 5)], grid, 50.0)
    assert spectra["flux"].shape == (3, grid.size)
    assert np.median(spectra["flux"][np.isfinite(spectra["flux_error"])]) == pytest.approx(1.0, abs=0.02)
    stars = join_lamost(allstar, matches, spectra, list(LABELS), _provenance("lamost"))
    sample = build_sample(stars, LABELS, QUALITY, ["bp_rp"])
    assert list(sample.apogee_id) == list(matches["apogee_id"]) and sample.spectra.flux.shape[1] == grid.size


def test_lamost_spectrum_without_a_redshift_is_moved_by_the_catalogue_or_left_out(tmp_path, caplog):
    """A header Z of -9999 is no velocity: the catalogue's rv moves the spectrum, or it is left out."""
    for obsid, redshift in ((1, 1e-4), (2, -9999.0), (3, -9999.0)):
        write_lamost_dr10(tmp_path / f"{obsid}.fits", obsid=obsid, seed=1, redshift=redshift)
    grid = log_linear_grid(3900.0, 8800.0, 1e-4)
    spectra = [read_lamost_spectrum(tmp_path / f"{o}.fits") for o in (1, 2, 3)]
    caplog.set_level("INFO")
    on_grid = lamost_on_grid(spectra, grid, 50.0, catalogue_rv={1: -500.0, 2: 1e-4 * SPEED_OF_LIGHT_KMS, 3: np.nan})
    assert list(on_grid["obsid"]) == [1, 2] and on_grid["flux"].shape == (2, grid.size)
    np.testing.assert_allclose(on_grid["flux"][0], on_grid["flux"][1])  # 1 by its own Z (not the catalogue's rv)
    assert "1 spectra without a redshift in their header moved by the catalogue's velocity" in caplog.text
    assert "1 spectra left out: no redshift in their header and no velocity in the catalogue" in caplog.text


def test_lamost_without_any_match_is_a_clear_error(allstar):
    catalogue = pd.DataFrame({"obsid": [1], "ra": [0.5], "dec": [89.0], "snr_g": [30.0], "snr_r": 30.0,
                              "rv": 0.0, "source_id": [-1]})
    gaia = pd.DataFrame(columns=["source_id", "ra", "dec", "pmra", "pmdec"], dtype=float)
    with pytest.raises(EmptyMatchError, match=r"no LAMOST spectrum of the 1 in the catalogue matches one of the 12"):
        match_lamost(allstar, catalogue, gaia, 1.0, 2000.0)
