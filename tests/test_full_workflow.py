"""End to end: config/full.yaml (three archive tasks, a method of each kind) against a fake archive.

A small allStar file, a Gaia TAP service, DataLink XP and RVS products, a LAMOST catalogue and
LAMOST spectra (at pylamost's openapi address, behind an access token), all in the real formats,
are served on 127.0.0.1; the workflow downloads, reads, cross-matches, trains and evaluates as it
would against the real archives, in a temporary working directory, with the small method
settings of config/ci.yaml.
"""

import gzip
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fake_archive import FakeArchive, datalink, tap_sync
from survey_factory import allstar_rows, rvs_rows, write_allstar, write_lamost_dr10, write_xp_continuous

REPO = Path(__file__).resolve().parents[1]
N_STARS = 400
TASKS = ["xp_from_allstar", "rvs_from_allstar", "lamost_from_allstar"]
#: Two spectral models (the Payne carries the bound), trees and a network (the CI config's run has every method).
METHODS = ["cannon", "payne", "xgboost", "mlp"]
#: The LAMOST access token the fake archive demands, in the environment variable config/full.yaml names.
LAMOST_TOKEN = "F2f59e87b65-not-a-real-token"
pytestmark = pytest.mark.slow


def _publish(archive, tmp_path):
    """Files and services of the fake archive; returns the archives section of the config."""
    columns = allstar_rows(N_STARS, seed=5)
    # 19-digit ids, as Gaia's: a float (blank cells in a CSV column) would lose the last digits
    source_ids = 2052553983024456192 + np.arange(1, N_STARS + 1, dtype=np.int64) * 1000
    columns["GAIAEDR3_SOURCE_ID"] = source_ids
    write_allstar(tmp_path / "allStar.fits", columns)
    allstar_bytes = (tmp_path / "allStar.fits").read_bytes()
    allstar_url = archive.put("sas/dr17/allStar-dr17-synspec_rev1.fits", allstar_bytes)
    ra, dec = columns["RA"], columns["DEC"]
    archive.services["tap-server/tap/sync"] = tap_sync(pd.DataFrame({
        "source_id": source_ids, "ra": ra, "dec": dec + 16 * 50 / 3.6e6, "pmra": 0.0, "pmdec": 50.0,
        "parallax": 1.0, "parallax_error": 0.02, "phot_g_mean_mag": 12.0, "phot_bp_mean_mag": 12.5,
        "phot_rp_mean_mag": 11.4, "has_xp_continuous": True, "has_rvs": np.arange(N_STARS) % 10 != 0}))
    write_xp_continuous(tmp_path / "xp.csv", source_ids, seed=1)
    archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": pd.read_csv(tmp_path / "xp.csv"),
                                                     "RVS": rvs_rows(source_ids, seed=2)})
    obsids = 5_000_000 + np.arange(N_STARS)
    row = np.arange(N_STARS)
    # LAMOST's missing values: -9999, and blank cells in the Gaia id column (half the stars)
    catalogue = pd.DataFrame({"obsid": obsids, "ra": ra, "dec": dec, "snrg": 50.0, "snrr": 80.0,
                              "rv": np.where(row % 3 == 0, -9999.0, 3.0), "z": 1e-5,
                              "gaia_source_id": np.where(row % 2 == 0, source_ids.astype(str),
                                                         np.where(row % 4 == 1, "", "-9999"))})
    archive.tokens["lamost/openapi/"] = LAMOST_TOKEN
    archive.put("lamost/dr10/v2.0/catdl?name=dr10_v2.0_LRS_stellar.csv.gz",
                gzip.compress(catalogue.to_csv(index=False).encode()))
    for i, obsid in enumerate(obsids):
        write_lamost_dr10(tmp_path / "spec.fits", obsid=int(obsid), ra=float(ra[i]), dec=float(dec[i]), seed=i,
                          redshift=-9999.0 if i % 5 == 0 else 1e-5)  # no redshift: the catalogue's velocity
        archive.put(f"lamost/openapi/dr10/v2.0/lrs/spectrum/fits?obsid={obsid}",
                    gzip.compress((tmp_path / "spec.fits").read_bytes()))
    return {
        "allstar": {"url": allstar_url, "file": "allStar-dr17-synspec_rev1.fits", "min_snr": 40,
                    "checksum": "sha1:" + hashlib.sha1(allstar_bytes).hexdigest()},
        "gaia": {"tap_url": f"{archive.url}/tap-server/tap", "data_url": f"{archive.url}/data-server/data",
                 "tap_batch_size": 150, "datalink_batch_size": 150},
        "lamost": {"catalogue_url": f"{archive.url}/lamost/dr10/v2.0/catdl?name=dr10_v2.0_LRS_stellar.csv.gz",
                   "catalogue_file": "dr10_v2.0_LRS_stellar.csv.gz",
                   "spectrum_url": archive.url + "/lamost/openapi/dr10/v2.0/lrs/spectrum/fits?obsid={obsid}",
                   "grid": {"start": 3900.0, "stop": 8800.0, "step_log10": 1.0e-4}},
    }


def _run_archive_tasks(tmp_path, archive, *targets):
    """config/full.yaml (with small settings) run against ``archive`` in a fresh working directory, the
    LAMOST token in the environment as a user sets it; the working directory."""
    test_config = tmp_path / "archive.yaml"
    (tmp_path / "build").mkdir()
    # 400 made-up stars: too few for the default Cannon's three Teff regimes; one method of each
    # kind (the Payne carries the information bound), one ladder level, no learning-curve subset, small wavelength subsets and no survey
    # keep the three tasks quick (config/ci.yaml runs every method and diagnostic)
    test_config.write_text(yaml.safe_dump({"archives": _publish(archive, tmp_path / "build"),
                                           "method_settings": {"cannon": {"params": {"regimes": None}}},
                                           "snr_ladder": {"levels": [20], "max_stars": 60},
                                           "learning_curve": {"sizes": [], "max_stars": 60},
                                           "wavelength_subsets": {"train_size": 150, "max_stars": 60},
                                           "influence": {"max_stars": 30}, "survey": {"files": 0},
                                           "methods": METHODS}))
    workdir = tmp_path / "work"
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    command = [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--cores", "2", "--configfile", str(REPO / "config" / "ci.yaml"),
               str(REPO / "config" / "full.yaml"), str(test_config)]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"LAMOST_TOKEN": LAMOST_TOKEN})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    return workdir


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("full")
    with FakeArchive(tmp_path / "server") as archive:
        yield _run_archive_tasks(tmp_path, archive), archive


def _file_contents(path):
    """The bytes of ``path`` and, for a zip (npz) or gzip file, of what it holds."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return [data] + [archive.read(member) for member in archive.namelist()]
    return [data, gzip.decompress(data)] if data[:2] == b"\x1f\x8b" else [data]


def test_the_lamost_token_is_sent_and_written_nowhere(tmp_path):
    """Up to each task's sample (every step that asks an archive): Snakemake's records and logs, the
    jobs' logs, the downloads, manifests and the samples' provenance never hold the token."""
    with FakeArchive(tmp_path / "server") as archive:
        workdir = _run_archive_tasks(tmp_path, archive, *(f"results/{task}/data/sample.npz" for task in TASKS))
    spectra = [path for path, _ in archive.requests if path.startswith("lamost/openapi/")]
    assert len(spectra) == N_STARS  # each with the token the archive demands (else HTTP 403)
    written = [path for path in workdir.rglob("*") if path.is_file()]
    assert {".snakemake", "logs", "resources", "results", "benchmarks"} <= {p.relative_to(workdir).parts[0]
                                                                          for p in written}
    assert [p for p in written if any(LAMOST_TOKEN.encode() in data for data in _file_contents(p))] == []
    log = (workdir / "logs" / "lamost_from_allstar" / "lamost_spectra.log").read_text()
    assert "LAMOST access token: from $LAMOST_TOKEN" in log


def test_every_task_is_evaluated_for_every_method(full_run):
    workdir, _ = full_run
    for task in TASKS:
        summary = pd.read_csv(workdir / "results" / task / "metrics" / "summary.csv")
        assert set(summary["method"]) == set(METHODS), task
        for figure in ("kiel", "calibration", "costs"):
            assert (workdir / "results" / task / "figures" / f"{figure}.png").stat().st_size > 10_000


def test_the_xp_task_s_ladder_noise_has_each_star_s_xp_correlations(full_run):
    workdir, _ = full_run
    with np.load(workdir / "results" / "xp_from_allstar" / "snr_ladder" / "xp_noise.npz") as noise:
        assert noise["factors"].shape == (60, 110, 110) and noise["design"].shape == (343, 110)
    for task, kind in (("xp_from_allstar", "each star's XP covariance"), ("rvs_from_allstar", "independent pixels")):
        assert f"the added noise: {kind}" in (workdir / "logs" / task / "snr_ladder" / "mlp.log").read_text()
    bands = pd.read_csv(workdir / "results" / "rvs_from_allstar" / "metrics" / "wavelength_subsets.csv")
    assert set(bands["band"]) == {"all", "rp"}  # the RVS spectra have no pixel in the BP band


def test_samples_have_each_survey_s_pixels_and_stars(full_run):
    workdir, _ = full_run
    pixels = {}
    for task in TASKS:
        with np.load(workdir / "results" / task / "data" / "sample.npz") as sample:
            pixels[task] = sample["flux"].shape[1]
            assert sample["flux"].shape[0] > 0.8 * N_STARS * (0.9 if task == "rvs_from_allstar" else 1.0), task
            provenance = json.loads(str(sample["provenance"]))
        assert [Path(entry["path"]).name for entry in provenance["files"]][0] == "apogee_labels.csv"
        assert all(len(entry["sha256"]) == 64 for entry in provenance["files"]), provenance
        summary = (workdir / "results" / task / "metrics" / "summary.md").read_text()
        assert "Data: APOGEE DR17 allStar labels" in summary and provenance["files"][0]["sha256"][:16] in summary
    assert pixels == {"xp_from_allstar": 343, "rvs_from_allstar": 2401, "lamost_from_allstar": 3535}  # 3900-8800 A at 1e-4 dex


def test_lamost_matches_use_ids_and_moved_positions(full_run):
    workdir, _ = full_run
    matches = pd.read_csv(workdir / "results" / "lamost_from_allstar" / "crossmatch" / "matches.csv")
    assert len(matches) == N_STARS and (matches["how"] == "source_id").sum() == N_STARS // 2
    assert matches["separation_arcsec"].max() < 0.05  # the 0.8 arcsec of proper motion undone
    log = (workdir / "logs" / "lamost_from_allstar" / "prepare.log").read_text()
    assert f"{N_STARS // 5} spectra without a redshift in their header moved by the catalogue's velocity" in log


def test_downloads_went_through_the_archive_in_batches(full_run):
    _, archive = full_run
    workdir, _ = full_run
    catalogue = workdir / "resources/archives/allstar/allStar-dr17-synspec_rev1.fits"  # download_archive_catalogue's
    assert catalogue.read_bytes().startswith(b"SIMPLE")
    sources = pd.read_csv(workdir / "results/archives/gaia_sources.csv")  # query_gaia_sources's, by TAP
    assert len(sources) > 0 and sources["source_id"].is_unique
    posted = [form for path, form in archive.requests if path == "data-server/data"]
    assert sorted(f["RETRIEVAL_TYPE"] for f in posted) == ["RVS"] * 3 + ["XP_CONTINUOUS"] * 3
    assert all(len(f["ID"].split(",")) <= 150 for f in posted)
    assert {(f["DATA_STRUCTURE"], f["FORMAT"], f["USE_ZIP_ALWAYS"]) for f in posted} == {("RAW", "csv", "true")}
