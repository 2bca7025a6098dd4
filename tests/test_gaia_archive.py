"""The Gaia archive client (TAP by pyvo, DataLink through the download engine) and the RVS
reader, against a fake archive on 127.0.0.1."""

import numpy as np
import pandas as pd
import pytest

from fake_archive import FakeArchive, datalink, tap_sync
from labeltransfer.io.gaia_archive import datalink_batches, query_sources, unpack_datalink
from labeltransfer.io.gaia_rvs import RVSFormatError, read_rvs
from labeltransfer.io.gaia_xp import read_xp_continuous
from labeltransfer.io.remote import download_many
from survey_factory import rvs_rows, write_xp_continuous

GAIA_SOURCE = pd.DataFrame({
    "source_id": np.arange(1, 8, dtype=np.int64) * 1000, "ra": np.linspace(10, 16, 7), "dec": np.full(7, -5.0),
    "pmra": np.ones(7), "pmdec": np.ones(7), "parallax": np.linspace(0.5, 2, 7), "parallax_error": np.full(7, 0.02),
    "phot_g_mean_mag": np.full(7, 12.0), "phot_bp_mean_mag": np.full(7, 12.5), "phot_rp_mean_mag": np.full(7, 11.4),
    "has_xp_continuous": np.ones(7, bool), "has_rvs": np.ones(7, bool)})


@pytest.fixture
def archive(tmp_path):
    with FakeArchive(tmp_path / "server") as server:
        server.services["tap-server/tap/sync"] = tap_sync(GAIA_SOURCE)
        yield server


def test_tap_query_in_batches_returns_the_known_sources(archive, caplog):
    table = query_sources(f"{archive.url}/tap-server/tap", [3000, 1000, 99, 5000, 7000, 1000], batch_size=2)
    assert sorted(table["source_id"]) == [1000, 3000, 5000, 7000]
    assert table.set_index("source_id").loc[5000, "parallax"] == pytest.approx(1.5)
    assert len([r for r in archive.requests if r[0] == "tap-server/tap/sync"]) == 3  # 5 distinct IDs, 2 per query
    assert "1 source_ids are not in gaiadr3.gaia_source" in caplog.text


def test_datalink_batches_fetch_xp_spectra_that_sample(archive, tmp_path):
    write_xp_continuous(tmp_path / "all.csv", [1000, 2000, 3000], no_bp=[2000])
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": pd.read_csv(tmp_path / "all.csv")})
    remotes = datalink_batches(f"{archive.url}/data-server/data", [3000, 1000, 2000], "XP_CONTINUOUS",
                               tmp_path / "batches", batch_size=2)
    assert [r.path.name for r in remotes] == ["XP_CONTINUOUS_1000_2.zip", "XP_CONTINUOUS_3000_1.zip"]
    assert remotes[0].form["ID"] == "1000,2000" and remotes[0].form["RETRIEVAL_TYPE"] == "XP_CONTINUOUS"
    download_many(remotes, max_workers=2, backoff=0.01, progress=False)
    csvs = [csv for r in remotes for csv in unpack_datalink(r.path, tmp_path / "csv" / r.path.stem)]
    xp = read_xp_continuous(csvs)
    assert sorted(xp["source_id"]) == [1000, 2000, 3000] and xp["flux"].shape == (3, 343)


def test_unpack_plain_csv_answer(tmp_path):
    (tmp_path / "answer.zip").write_text("source_id,flux\n1,\"(1.0)\"\n")
    assert [p.read_text()[:9] for p in unpack_datalink(tmp_path / "answer.zip", tmp_path / "out")] == ["source_id"]


def test_rvs_spectra_are_read_with_empty_pixels_masked(tmp_path):
    rvs_rows([11, 12]).to_csv(tmp_path / "rvs.csv", index=False)
    rvs = read_rvs(tmp_path / "rvs.csv")
    assert list(rvs["source_id"]) == [11, 12] and rvs["flux"].shape == (2, 2401)
    assert rvs["wavelength"][0] == 846.0 and rvs["wavelength"][-1] == 870.0
    assert np.isinf(rvs["flux_error"][:, :20]).all() and (rvs["flux"][:, :20] == 0).all()
    assert rvs["flux"][0, 1200] == pytest.approx(0.6, abs=0.05)


def test_rvs_array_of_the_wrong_length_is_named(tmp_path):
    rows = rvs_rows([11])
    rows.loc[0, "flux"] = "(1.0, 2.0)"
    rows.to_csv(tmp_path / "rvs.csv", index=False)
    with pytest.raises(RVSFormatError, match=r"rvs\.csv: source 11 has 2 RVS pixels, expected 2401"):
        read_rvs(tmp_path / "rvs.csv")
