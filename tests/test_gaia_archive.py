"""The Gaia archive client (TAP by pyvo, DataLink through the download engine) and the XP and
RVS readers, against a fake archive on 127.0.0.1 that answers as the real one does."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_FIXTURES
from fake_archive import FakeArchive, datalink, tap_sync
from labeltransfer.io.gaia_archive import datalink_batches, datalink_form, query_sources
from labeltransfer.io.gaia_rvs import RVSFormatError, read_rvs
from labeltransfer.io.gaia_xp import read_xp_continuous
from labeltransfer.io.remote import HTTPStatusError, RemoteFile, download, download_many
from survey_factory import as_bulk_ecsv, rvs_rows, write_xp_continuous

FAST = dict(backoff=0.01, timeout=5, progress=False)
GAIA_SOURCE = pd.DataFrame({
    "source_id": np.arange(1, 8, dtype=np.int64) * 1000, "ra": np.linspace(10, 16, 7), "dec": np.full(7, -5.0),
    "pmra": np.ones(7), "pmdec": np.ones(7), "parallax": np.linspace(0.5, 2, 7), "parallax_error": np.full(7, 0.02),
    "phot_g_mean_mag": np.full(7, 12.0), "phot_bp_mean_mag": np.full(7, 12.5), "phot_rp_mean_mag": np.full(7, 11.4),
    "has_xp_continuous": np.ones(7, bool), "has_rvs": np.ones(7, bool)})
REAL_XP = SHARED_FIXTURES / "real" / "gaia_xp"


@pytest.fixture
def archive(tmp_path):
    with FakeArchive(tmp_path / "server") as server:
        server.services["tap-server/tap/sync"] = tap_sync(GAIA_SOURCE)
        yield server


@pytest.fixture
def xp_table(tmp_path):
    write_xp_continuous(tmp_path / "all.csv", [1000, 2000, 3000], no_bp=[2000])
    return pd.read_csv(tmp_path / "all.csv")


def test_tap_query_in_batches_returns_the_known_sources(archive, caplog):
    table = query_sources(f"{archive.url}/tap-server/tap", [3000, 1000, 99, 5000, 7000, 1000], batch_size=2)
    assert sorted(table["source_id"]) == [1000, 3000, 5000, 7000]
    assert table.set_index("source_id").loc[5000, "parallax"] == pytest.approx(1.5)
    assert len([r for r in archive.requests if r[0] == "tap-server/tap/sync"]) == 3  # 5 distinct IDs, 2 per query
    assert "1 source_ids are not in gaiadr3.gaia_source" in caplog.text


@pytest.mark.parametrize("retrieval_type", ["XP_CONTINUOUS", "RVS"])
def test_datalink_form_is_the_reference_client_s_field_by_field(archive, tmp_path, monkeypatch, retrieval_type):
    """astroquery's Gaia.load_data, called as GaiaXPy calls it (RAW, csv, Gaia DR3), sends the same form."""
    from astroquery.gaia import GaiaClass

    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": GAIA_SOURCE, "RVS": rvs_rows([1000, 2000])})
    monkeypatch.chdir(tmp_path)  # load_data unpacks its reply under the working directory
    gaia = GaiaClass(gaia_tap_server=archive.url + "/", gaia_data_server=archive.url + "/",
                     show_server_messages=False)
    gaia.load_data(ids=[1000, 2000], data_release="Gaia DR3", data_structure="RAW", retrieval_type=retrieval_type,
                   format="csv")
    (path, reference), = [r for r in archive.requests if r[0] == "data-server/data"]
    ours = datalink_batches(f"{archive.url}/data-server/data", [2000, 1000], retrieval_type, tmp_path)[0]
    assert ours.url.endswith("/" + path) and ours.form == reference
    assert ours.zipped and reference["USE_ZIP_ALWAYS"] == "true" and reference["DATA_STRUCTURE"] == "RAW"


def test_combined_structure_is_refused_with_the_server_s_own_words_and_not_retried(archive, tmp_path):
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": GAIA_SOURCE})
    form = datalink_form([1000], "XP_CONTINUOUS") | {"DATA_STRUCTURE": "COMBINED"}
    with pytest.raises(HTTPStatusError, match=r"data-server/data: HTTP 500 .*the server says: Error 500: Invalid "
                                              r"Data Structure parameter: 'COMBINED', valid ones are: RAW, INDIVIDUAL"):
        download(RemoteFile(f"{archive.url}/data-server/data", tmp_path / "x.zip", form=form, zipped=True), **FAST)
    assert len(archive.requests) == 1 and not (tmp_path / "x.zip").exists()


def test_unknown_data_structure_is_refused_before_asking(tmp_path):
    with pytest.raises(ValueError, match="data_structure must be one of RAW, INDIVIDUAL"):
        datalink_batches("http://127.0.0.1:1/data", [1], "RVS", tmp_path, data_structure="COMBINED")


@pytest.mark.parametrize("structure", ["RAW", "INDIVIDUAL"])
def test_xp_batches_in_either_layout_sample_like_the_csv(archive, tmp_path, xp_table, structure):
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": xp_table})
    remotes = datalink_batches(f"{archive.url}/data-server/data", [3000, 1000, 2000], "XP_CONTINUOUS",
                               tmp_path / "batches", batch_size=2, data_structure=structure)
    assert [r.path.name for r in remotes] == [f"XP_CONTINUOUS_{structure}_1000_2.zip",
                                              f"XP_CONTINUOUS_{structure}_3000_1.zip"]
    assert remotes[0].form["ID"] == "1000,2000" and remotes[0].form["DATA_STRUCTURE"] == structure
    with zipfile.ZipFile(download_many(remotes, max_workers=2, **FAST)[0]) as reply:
        assert reply.namelist() == (["XP_CONTINUOUS_RAW.csv"] if structure == "RAW" else
                                    ["XP_CONTINUOUS-Gaia DR3 1000.csv", "XP_CONTINUOUS-Gaia DR3 2000.csv"])
    xp, direct = read_xp_continuous([r.path for r in remotes]), read_xp_continuous(tmp_path / "all.csv")
    np.testing.assert_array_equal(xp["source_id"], [1000, 2000, 3000])
    np.testing.assert_array_equal(xp["flux"], direct["flux"])
    assert list(xp["missing_band"]) == ["", "bp", ""]


def test_xp_spectra_are_sampled_one_batch_at_a_time(tmp_path, monkeypatch):
    """Memory is bounded by the batch: gaiaxpy sees one batch's rows, never the task's."""
    import gaiaxpy

    sizes, calibrate = [], gaiaxpy.calibrate
    monkeypatch.setattr(gaiaxpy, "calibrate", lambda table, **kw: (sizes.append(len(table)), calibrate(table, **kw))[1])
    for batch in range(3):
        write_xp_continuous(tmp_path / f"{batch}.csv", [10 * batch + 1, 10 * batch + 2], seed=batch)
    xp = read_xp_continuous([tmp_path / f"{batch}.csv" for batch in range(3)])
    assert sizes == [2, 2, 2] and list(xp["source_id"]) == [1, 2, 11, 12, 21, 22]


def test_bulk_ecsv_file_samples_like_the_datalink_csv(tmp_path, xp_table):
    """The bulk download's layout: '#' header lines, '[...]' arrays, null for a missing band, gzipped."""
    as_bulk_ecsv(xp_table, tmp_path / "XpContinuousMeanSpectrum_000000-003111.csv.gz")
    bulk = read_xp_continuous(tmp_path / "XpContinuousMeanSpectrum_000000-003111.csv.gz")
    direct = read_xp_continuous(tmp_path / "all.csv")
    np.testing.assert_array_equal(bulk["source_id"], direct["source_id"])
    np.testing.assert_allclose(bulk["flux"], direct["flux"], rtol=1e-6, equal_nan=True)
    assert list(bulk["missing_band"]) == ["", "bp", ""]


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_real_xp_rows_in_the_bulk_layout_sample_like_the_archive_csv(tmp_path):
    table = pd.read_csv(REAL_XP / "XP_CONTINUOUS_RAW_with_missing_BP.csv")
    as_bulk_ecsv(table, tmp_path / "bulk.csv.gz")
    bulk = read_xp_continuous(tmp_path / "bulk.csv.gz")
    direct = read_xp_continuous(REAL_XP / "XP_CONTINUOUS_RAW_with_missing_BP.csv")
    np.testing.assert_array_equal(bulk["source_id"], direct["source_id"])
    np.testing.assert_allclose(bulk["flux"], direct["flux"], rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("structure", ["RAW", "INDIVIDUAL"])
def test_rvs_replies_in_either_layout_give_the_same_spectra(archive, tmp_path, structure):
    archive.services["data-server/data"] = datalink({"RVS": rvs_rows([11, 12, 13])})
    remotes = datalink_batches(f"{archive.url}/data-server/data", [11, 12, 13], "RVS", tmp_path, batch_size=2,
                               data_structure=structure)
    rvs = read_rvs(download_many(remotes, **FAST))
    rvs_rows([11, 12, 13]).to_csv(tmp_path / "rvs.csv", index=False)
    direct = read_rvs(tmp_path / "rvs.csv")
    np.testing.assert_array_equal(rvs["source_id"], [11, 12, 13])
    np.testing.assert_array_equal(rvs["flux"], direct["flux"])
    np.testing.assert_array_equal(rvs["flux_error"], direct["flux_error"])


def test_rvs_spectra_are_read_with_empty_pixels_masked(tmp_path):
    rvs_rows([11, 12]).to_csv(tmp_path / "rvs.csv", index=False)
    rvs = read_rvs(tmp_path / "rvs.csv")
    assert list(rvs["source_id"]) == [11, 12] and rvs["flux"].shape == (2, 2401)
    assert rvs["wavelength"][0] == 846.0 and rvs["wavelength"][-1] == 870.0
    assert np.isinf(rvs["flux_error"][:, :20]).all() and (rvs["flux"][:, :20] == 0).all()
    assert rvs["flux"][0, 1200] == pytest.approx(0.6, abs=0.05)


def _per_pixel_zip(path, member, pixels):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, pixels.to_csv(index=False))
    path.write_bytes(buffer.getvalue())


def test_rvs_per_pixel_file_without_source_id_takes_it_from_the_file_name(tmp_path):
    wavelength = np.round(846.0 + 0.01 * np.arange(2401), 2)
    pixels = pd.DataFrame({"wavelength": wavelength, "flux": 1.0, "flux_error": 0.02})
    _per_pixel_zip(tmp_path / "reply.zip", "RVS-Gaia DR3 4295806720.csv", pixels.iloc[5:])  # 5 blue pixels absent
    rvs = read_rvs(tmp_path / "reply.zip")
    assert list(rvs["source_id"]) == [4295806720]
    assert np.isinf(rvs["flux_error"][0, :5]).all() and np.all(rvs["flux_error"][0, 5:] == np.float32(0.02))
    _per_pixel_zip(tmp_path / "anonymous.zip", "spectrum.csv", pixels)
    with pytest.raises(RVSFormatError, match=r"anonymous\.zip:spectrum\.csv: one row per pixel, but no source_id"):
        read_rvs(tmp_path / "anonymous.zip")
    _per_pixel_zip(tmp_path / "angstrom.zip", "RVS-Gaia DR3 7.csv", pixels.assign(wavelength=wavelength * 10))
    with pytest.raises(RVSFormatError, match=r"RVS-Gaia DR3 7\.csv: source 7 has wavelengths off the RVS grid"):
        read_rvs(tmp_path / "angstrom.zip")


def test_rvs_array_of_the_wrong_length_is_named(tmp_path):
    rows = rvs_rows([11])
    rows.loc[0, "flux"] = "(1.0, 2.0)"
    rows.to_csv(tmp_path / "rvs.csv", index=False)
    with pytest.raises(RVSFormatError, match=r"rvs\.csv: source 11 has 2 RVS pixels, expected 2401"):
        read_rvs(tmp_path / "rvs.csv")


def test_reply_without_a_table_is_named(tmp_path):
    with zipfile.ZipFile(tmp_path / "reply.zip", "w") as archive:
        archive.writestr("README.txt", "nothing here")
    with pytest.raises(RVSFormatError, match=r"reply\.zip: the zip archive holds no CSV or ECSV file \(README\.txt\)"):
        read_rvs(tmp_path / "reply.zip")
