"""The Gaia archive client (TAP by pyvo, DataLink through the download engine) and the XP and
RVS readers, against a fake archive on 127.0.0.1 that answers as the real one does."""

import csv
import io
import logging
import re
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, SHARED_FIXTURES
from fake_archive import (OPERATIONAL_STRUCTURES, XP_RAW_COLUMNS, FakeArchive, ServiceError, datalink,
                          tap_sync)
from labeltransfer.io.gaia_archive import (GaiaArchiveError, datalink_batches, datalink_form, fetch_datalink,
                                           query_sources)
from labeltransfer.io.gaia_rvs import RVSFormatError, read_rvs
from labeltransfer.xp.continuous import read_xp_continuous
from labeltransfer.io.remote import HTTPStatusError, RemoteFile, download, download_many
from labeltransfer.pipeline.archives import fetch_datalink_replies
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


def _tap_requests(archive):
    return [form for path, form in archive.requests if path == "tap-server/tap/sync"]


def test_a_tap_result_cut_at_the_archive_s_row_cap_is_an_error_naming_the_query(archive):
    """Past its cap a synchronous query returns the first rows and QUERY_STATUS OVERFLOW: not a silent loss."""
    archive.services["tap-server/tap/sync"] = tap_sync(GAIA_SOURCE, row_limit=2)
    with pytest.raises(GaiaArchiveError, match=r"tap-server/tap: query 2 of 2 \(SELECT source_id, ra, .* FROM "
                                               r"gaiadr3\.gaia_source WHERE source_id IN 3 ids 4000 \.\.\. 6000\): the "
                                               r"archive cut the result at 2 rows \(QUERY_STATUS OVERFLOW\); lower "
                                               r"archives: gaia: tap_batch_size"):
        query_sources(f"{archive.url}/tap-server/tap", [98, 99, 1000, 4000, 5000, 6000], batch_size=3,
                      backoff=0.01)  # the first query's 1 row is below the cap
    assert len(_tap_requests(archive)) == 2 and _tap_requests(archive)[1]["MAXREC"] == "3"


def test_an_overflow_status_on_a_complete_result_is_accepted(archive):
    """A server that flags OVERFLOW when the rows reach MAXREC has still sent one row per ID asked."""
    archive.services["tap-server/tap/sync"] = tap_sync(GAIA_SOURCE, row_limit=3, overflow_when_full=True)
    table = query_sources(f"{archive.url}/tap-server/tap", [1000, 2000, 3000], batch_size=3)
    assert list(table["source_id"]) == [1000, 2000, 3000]


def test_the_archive_s_error_document_names_the_query_and_is_not_retried(archive):
    with pytest.raises(GaiaArchiveError, match=r"query 1 of 1 \(SELECT source_id, no_such_column FROM gaiadr3\."
                                               r"gaia_source WHERE source_id IN 2 ids 1000 \.\.\. 2000\): the archive "
                                               r"refuses the query \(QUERY_STATUS ERROR\): Cannot parse query '<the "
                                               r"query>' for job '\w+': 1 unresolved identifiers: no_such_column"):
        query_sources(f"{archive.url}/tap-server/tap", [1000, 2000], columns=("source_id", "no_such_column"),
                      backoff=0.01)
    assert len(_tap_requests(archive)) == 1


def test_transient_tap_failures_are_retried_like_downloads(archive, caplog):
    answer, failures = tap_sync(GAIA_SOURCE), [503]

    def busy_once(form):
        if failures:
            raise ServiceError(failures.pop(), "<html><body>Service Unavailable</body></html>", "text/html")
        return answer(form)
    archive.services["tap-server/tap/sync"] = busy_once
    archive.stall["tap-server/tap/sync"] = (0, 2.0)  # the first answer falls silent past the timeout
    table = query_sources(f"{archive.url}/tap-server/tap", [1000, 2000], backoff=0.01, timeout=0.5)
    assert list(table["source_id"]) == [1000, 2000] and len(_tap_requests(archive)) == 3
    assert caplog.text.count("retrying in") == 2
    archive.services["tap-server/tap/sync"] = lambda form: (_ for _ in ()).throw(ServiceError(503, "down"))
    with pytest.raises(GaiaArchiveError, match=r"query 1 of 1 .*: failed after 3 attempts"):
        query_sources(f"{archive.url}/tap-server/tap", [1000], backoff=0.01, retries=2)


def test_a_tap_batch_above_the_row_cap_is_refused_before_asking():
    with pytest.raises(ValueError, match=r"batch_size 2001: .* at most 2000 rows \(archives: gaia: tap_batch_size\)"):
        query_sources("http://127.0.0.1:1/tap", [1, 2], batch_size=2001)


def test_a_tap_batch_above_the_row_cap_is_refused_at_start_up(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("archives: {gaia: {tap_batch_size: 2001}}\n")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "config/full.yaml", str(bad)],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert "2001 is greater than the maximum of 2000" in result.stdout + result.stderr
    assert "['archives']['properties']['gaia']['properties']['tap_batch_size']" in result.stdout + result.stderr


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
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": GAIA_SOURCE}, structures=OPERATIONAL_STRUCTURES)
    form = datalink_form([1000], "XP_CONTINUOUS") | {"DATA_STRUCTURE": "COMBINED"}
    with pytest.raises(HTTPStatusError, match=r"data-server/data: HTTP 500 .*the server says: Error 500: Invalid "
                                              r"Data Structure parameter: 'COMBINED', valid ones are: RAW, INDIVIDUAL"):
        download(RemoteFile(f"{archive.url}/data-server/data", tmp_path / "x.zip", form=form, zipped=True), **FAST)
    assert len(archive.requests) == 1 and not (tmp_path / "x.zip").exists()


def test_unknown_data_structure_is_refused_before_asking(tmp_path):
    with pytest.raises(ValueError, match="data_structure must be one of RAW, INDIVIDUAL"):
        datalink_batches("http://127.0.0.1:1/data", [1], "RVS", tmp_path, data_structure="COMBINED")


@pytest.mark.parametrize("structure, accepted, other, name", [
    ("DATAMODEL_GAIA", OPERATIONAL_STRUCTURES, "RAW", "former"),  # the server of 2026-07
    ("DATAMODEL_STANDARD", OPERATIONAL_STRUCTURES, "INDIVIDUAL", "former"),
    ("RAW", ("DATAMODEL_GAIA", "DATAMODEL_STANDARD"), "DATAMODEL_GAIA", "new"),  # a server with the new names only
])
def test_a_refused_structure_name_is_an_error_naming_the_other(archive, tmp_path, structure, accepted, other, name):
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": GAIA_SOURCE}, structures=accepted)
    with pytest.raises(GaiaArchiveError, match=rf"data-server/data refuses DATA_STRUCTURE '{structure}' \(Invalid Data "
                                               rf"Structure parameter: '{structure}', valid ones are: "
                                               rf"{', '.join(accepted)}\): ask for '{other}', the same layout under "
                                               rf"its {name} name \(archives: gaia: data_structure\)"):
        fetch_datalink(f"{archive.url}/data-server/data", [1000, 2000], "XP_CONTINUOUS", tmp_path,
                       data_structure=structure, timeout=5)
    assert len(archive.requests) == 1  # not retried


def test_more_ids_than_the_data_server_takes_are_refused_with_its_words(archive, tmp_path):
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": GAIA_SOURCE}, max_ids=2)
    remote = RemoteFile(f"{archive.url}/data-server/data", tmp_path / "x.zip",
                        form=datalink_form([1000, 2000, 3000], "XP_CONTINUOUS"), zipped=True)
    with pytest.raises(HTTPStatusError, match=r"HTTP 500 .*the server says: Error 500: Maximum number of Source Ids "
                                              r"reached \(max: 2, found: 3\)"):
        download(remote, **FAST)
    assert len(archive.requests) == 1  # asking again cannot help
    with pytest.raises(ValueError, match=r"batch_size 5001: .* at most 5000 .*archives: gaia: datalink_batch_size"):
        datalink_batches(f"{archive.url}/data-server/data", [1], "XP_CONTINUOUS", tmp_path, batch_size=5001)


def test_an_edited_id_list_is_fetched_anew_not_answered_from_a_stale_reply(archive, tmp_path, caplog):
    """Same smallest ID, same count, another star: the reply on disk answers another request."""
    caplog.set_level(logging.INFO, logger="labeltransfer")
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": GAIA_SOURCE})
    url = f"{archive.url}/data-server/data"
    first = fetch_datalink_replies([1000, 2000, 3000], "xp_continuous", url, tmp_path / "cache", timeout=5)
    edited = fetch_datalink_replies([1000, 2000, 4000, 99], "xp_continuous", url, tmp_path / "cache", timeout=5)
    assert list(pd.read_csv(first[0])["source_id"]) == [1000, 2000, 3000]
    assert list(pd.read_csv(edited[0])["source_id"]) == [1000, 2000, 4000]  # 99: no such source, counted
    assert "4 source_ids in 1 XP_CONTINUOUS RAW replies, 1 of them without the product" in caplog.text
    again = fetch_datalink_replies([1000, 2000, 3000], "xp_continuous", url, tmp_path / "cache", timeout=5)
    assert again == first and len(archive.requests) == 2  # the same request: its reply is reused


def test_a_reply_holding_sources_not_asked_for_is_refused_naming_the_file(archive, tmp_path):
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": GAIA_SOURCE})
    url = f"{archive.url}/data-server/data"
    other, = fetch_datalink_replies([5000, 6000], "xp_continuous", url, tmp_path / "other", timeout=5)
    mine, = datalink_batches(url, [1000, 2000], "XP_CONTINUOUS", tmp_path / "cache")
    mine.path.parent.mkdir()
    mine.path.write_bytes(other.read_bytes())  # e.g. copied in by hand
    with pytest.raises(GaiaArchiveError, match=rf"{mine.path.name}: holds 2 source_ids that its request did not "
                                               r"ask for \(e\.g\. 5000\): .*delete it to fetch it again"):
        fetch_datalink_replies([1000, 2000], "xp_continuous", url, tmp_path / "cache", timeout=5)


def test_xp_replies_have_the_archive_s_26_columns_whole_numbers_as_such(archive, tmp_path, xp_table):
    served = xp_table.drop(columns=["bp_chi_squared"]).iloc[:, ::-1]  # a column missing, the others reversed
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": served})
    reply, = fetch_datalink(f"{archive.url}/data-server/data", [1000, 2000, 3000], "XP_CONTINUOUS", tmp_path,
                            timeout=5)
    with zipfile.ZipFile(reply) as archive_file:
        header, first, _, _ = csv.reader(io.StringIO(archive_file.read("XP_CONTINUOUS_RAW.csv").decode()))
    assert tuple(header) == XP_RAW_COLUMNS and len(XP_RAW_COLUMNS) == 26
    cells = dict(zip(header, first))
    assert cells["source_id"] == "1000" and cells["bp_n_parameters"] == "55" and cells["bp_chi_squared"] == ""


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_the_fake_archive_s_xp_columns_are_the_real_ones():
    assert tuple(pd.read_csv(REAL_XP / "XP_CONTINUOUS_RAW.csv", nrows=0).columns) == XP_RAW_COLUMNS


@pytest.mark.parametrize("structure", ["RAW", "INDIVIDUAL", "DATAMODEL_GAIA", "DATAMODEL_STANDARD"])
def test_xp_batches_in_either_layout_sample_like_the_csv(archive, tmp_path, xp_table, structure):
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": xp_table})
    remotes = datalink_batches(f"{archive.url}/data-server/data", [3000, 1000, 2000], "XP_CONTINUOUS",
                               tmp_path / "batches", batch_size=2, data_structure=structure)
    assert [re.fullmatch(rf"XP_CONTINUOUS_{structure}_(\d+)_(\d)_[0-9a-f]{{16}}\.zip", r.path.name).groups()
            for r in remotes] == [("1000", "2"), ("3000", "1")]  # named by the whole request: a digest of its form
    assert remotes[0].form["ID"] == "1000,2000" and remotes[0].form["DATA_STRUCTURE"] == structure
    with zipfile.ZipFile(download_many(remotes, max_workers=2, **FAST)[0]) as reply:
        assert reply.namelist() == ([f"XP_CONTINUOUS_{structure}.csv"] if structure in ("RAW", "DATAMODEL_GAIA") else
                                    ["XP_CONTINUOUS-Gaia DR3 1000.csv", "XP_CONTINUOUS-Gaia DR3 2000.csv"])
    xp, direct = read_xp_continuous([r.path for r in remotes]), read_xp_continuous(tmp_path / "all.csv")
    np.testing.assert_array_equal(xp["source_id"], [1000, 2000, 3000])
    np.testing.assert_array_equal(xp["flux"], direct["flux"])
    assert list(xp["missing_band"]) == ["", "bp", ""]


def test_xp_spectra_are_sampled_one_batch_at_a_time(tmp_path, monkeypatch):
    """Memory is bounded by the block: the sampling sees one block's rows, never the task's."""
    from labeltransfer.xp import continuous

    sizes, sample = [], continuous.normalised_xp_flux
    monkeypatch.setattr(continuous, "normalised_xp_flux",
                        lambda sampler, coefficients, *rest: (sizes.append(len(coefficients)),
                                                              sample(sampler, coefficients, *rest))[1])
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
