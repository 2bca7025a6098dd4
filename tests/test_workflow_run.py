"""End to end: the whole workflow on config/ci.yaml (real data, capped), then the report.

The downloads land in resources/ of the repository (a later run reuses the verified files).
"""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from snakemake.utils import update_config

from conftest import CI_SURVEY, ci_snakemake as _snakemake
from labeltransfer.cli import main as cli
from labeltransfer.methods import KINDS
from labeltransfer.pipeline.survey import flagging_models
from labeltransfer.survey.labelling import catalogue_metadata, label_file, read_catalogue

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
update_config(CONFIG, yaml.safe_load((REPO / "config" / "ci.yaml").read_text()))  # as Snakemake merges them
update_config(CONFIG, {"survey": CI_SURVEY})  # and the --config the tests add (conftest.ci_snakemake)
RESULTS = REPO / "results" / CONFIG["tasks"][0]
SURVEY = RESULTS.parent / CONFIG["survey"]["task"] / "survey"


def test_summary_table(ci_run):
    summary = pd.read_csv(RESULTS / "metrics" / "summary.csv")
    assert {"method", "label", "subset", "n", "bias", "scatter", "rmse", "outlier_frac"} <= set(summary.columns)
    methods, labels = set(CONFIG["methods"]), set(CONFIG["labels"])
    assert set(summary["method"]) == methods and set(summary["label"]) == labels
    n_bins, n_teff_bins = len(CONFIG["snr_bins"]) - 1, len(CONFIG["teff_bins"]) - 1
    # all, giants, dwarfs, the S/N bins, with / without parallax, the Teff bins
    assert len(summary) == len(methods) * len(labels) * (3 + n_bins + 2 + n_teff_bins)
    assert {"nll", "crps"} <= set(summary.columns) and summary.loc[summary["subset"] == "all", "crps"].notna().all()
    comparison = pd.read_csv(RESULTS / "metrics" / "comparison.csv")
    assert len(comparison) == len(methods) * (len(methods) - 1) // 2 * len(labels) * 3
    assert comparison["verdict"].str.fullmatch(r"tie|\w+ better").all()
    everything = summary[summary["subset"] == "all"]
    assert (everything["n"] > 200).all() and everything["scatter"].notna().all()
    teff = everything[everything["label"] == "teff"].set_index("method")["scatter"]
    reference = pd.read_csv(RESULTS / "predictions" / f"{next(iter(methods))}.csv")["teff_ref"]
    prior = 1.4826 * (reference - reference.median()).abs().median()
    assert (teff < 0.75 * prior).all(), (teff, prior)  # every method beats guessing the mean
    markdown = (RESULTS / "metrics" / "summary.md").read_text()
    assert "| method |" in markdown and "Data: APOGEE DR17 labels and Gaia DR3 XP" in markdown
    costs = pd.read_csv(RESULTS / "metrics" / "costs.csv")
    assert set(costs["method"]) == methods and (costs["stars_per_second"] > 0).all()
    log = (REPO / "logs" / RESULTS.name / "evaluate.log").read_text()
    assert re.search(r"1,000 bootstrap resamples and \d+ paired comparisons in [\d.]+ s", log), log


def test_every_figure_is_a_valid_png(ci_run):
    figures = [RESULTS / "crossmatch" / "separation.png"]
    figures += [RESULTS / "figures" / "one_to_one" / f"{m}.png" for m in CONFIG["methods"]]
    figures += [RESULTS / "figures" / name for name in (
        "scatter_vs_snr.png", "kiel.png", "alpha_fe.png", "calibration.png", "costs.png", "snr_ladder.png",
        "learning_curve.png", "residual_trends.png", "information.png", "anomalies.png", "influence.png",
        "calibration_per_bin.png")]
    neural = [m for m in CONFIG["methods"] if CONFIG["method_settings"][m]["type"] in ("mlp", "cnn")]
    figures += [RESULTS / "figures" / kind / f"{m}.png" for kind in ("loss_curve", "ensemble_calibration")
                for m in neural]
    assert neural
    for path in figures:
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG" and min(image.size) > 300, path


def test_out_of_distribution_flags_are_in_every_prediction_table_and_summarised(ci_run):
    for method in CONFIG["methods"]:
        flags = pd.read_csv(RESULTS / "predictions" / f"{method}.csv")["flags"]
        assert flags.between(0, 7).all() and 0 < (flags > 0).mean() < 0.5, method
    ood = pd.read_csv(RESULTS / "metrics" / "ood.csv")
    assert len(ood) == len(CONFIG["methods"]) * len(CONFIG["labels"])
    assert (ood["spectrum_fraction"] > 0.005).all() and (ood["spectrum_fraction"] < 0.1).all()  # 1% of training-like
    # the label bit's threshold is each method's own validation stars': about 1% of test stars, not its imprecision
    assert (ood["labels_fraction"] < 0.06).all(), ood[["method", "labels_fraction"]]
    assert {"labels_fraction_beyond", "labels_fraction_within", "n_reference_beyond"} <= set(ood.columns)
    assert "## Out of distribution" in (RESULTS / "metrics" / "summary.md").read_text()


def test_snr_ladder_scores_every_method_at_every_level(ci_run):
    ladder = pd.read_csv(RESULTS / "metrics" / "snr_ladder.csv")
    levels = CONFIG["snr_ladder"]["levels"]
    whole = ladder[ladder["subset"].isin(["all", "giants", "dwarfs"])]
    assert len(whole) == len(CONFIG["methods"]) * len(levels) * 3 * len(CONFIG["labels"])
    assert {"cool", "warm"} <= set(ladder["subset"]) <= {"all", "giants", "dwarfs", "cool", "cool_giants",
                                                         "cool_dwarfs", "warm", "warm_giants", "warm_dwarfs"}
    everything = ladder[(ladder["subset"] == "all") & (ladder["label"] == "teff")].set_index(["method", "level"])
    assert (everything["n"] <= CONFIG["snr_ladder"]["max_stars"]).all()
    noisier = everything.xs(levels[0], level="level")["scatter"]
    assert (noisier > everything.xs(levels[-1], level="level")["scatter"]).mean() >= 0.5  # noise hurts most methods
    magnitudes = pd.read_csv(RESULTS / "metrics" / "snr_at_g.csv")
    assert list(magnitudes["g_mag"]) == [15, 16, 17] and magnitudes["snr"].is_monotonic_decreasing


def test_learning_curve_ends_at_the_workflow_model(ci_run):
    curve = pd.read_csv(RESULTS / "metrics" / "learning_curve.csv")
    train = pd.read_csv(RESULTS / "data" / "split.csv")["split"].eq("train").sum()
    assert sorted(curve["n_train"].unique()) == sorted({*CONFIG["learning_curve"]["sizes"], train})
    assert set(curve["method"]) == set(CONFIG["methods"]) and curve["scatter"].notna().all()


def test_wavelength_subsets_compare_every_method_on_each_band_with_all_pixels(ci_run):
    table = pd.read_csv(RESULTS / "metrics" / "wavelength_subsets.csv")
    bands = ["all", *CONFIG["wavelength_subsets"]["bands"]]
    assert len(table) == len(CONFIG["methods"]) * len(bands) * 3 * len(CONFIG["labels"])
    assert set(table["band"]) == set(bands) and table["scatter"].notna().all()
    compared = table[table["band"] != "all"]
    assert compared["minus_all"].notna().all() and (compared["minus_all_lo95"] <= compared["minus_all_hi95"]).all()


def test_residual_trends_against_extinction_brightness_and_sky_position(ci_run):
    trends = pd.read_csv(RESULTS / "metrics" / "trends.csv")
    panels = trends.groupby(["method", "label", "quantity"]).agg(n=("n", "sum"), left_out=("n_left_out", "first"))
    assert len(panels) == len(CONFIG["methods"]) * len(CONFIG["labels"]) * 4
    assert set(trends["quantity"]) == {"a_k", "g_mag", "gal_l", "gal_b"}
    # every test star with a residual and the quantity is in a bin or counted as left out (the CI run's few
    # hundred test stars leave most cells under 20 stars)
    n_test = len(pd.read_csv(RESULTS / "predictions" / f"{CONFIG['methods'][0]}.csv"))
    assert ((panels["n"] + panels["left_out"] > 0) & (panels["n"] + panels["left_out"] <= n_test)).all()
    assert (trends["median"].isna() == (trends["n"] < 20)).all()  # a bin of fewer than 20 stars has no median
    measured = trends.dropna(subset=["median"])
    assert (measured["median_lo95"] <= measured["median"]).all() and (measured["median"] <= measured["median_hi95"]).all()


def test_a_task_seed_draws_its_own_sample_and_split(ci_run, tmp_path):
    """``task_settings: <task>: seed`` reaches the task's jobs (the seed study's tasks): the CI sample capped
    and split with seed 7, not the config's seed."""
    extra = tmp_path / "seed7.yaml"
    extra.write_text("tasks: [ci, ci_seed7]\ntask_settings: {ci_seed7: {source: xp_library, seed: 7}}\n")
    try:
        result = subprocess.run([sys.executable, "-m", "snakemake", "results/ci_seed7/data/split.csv", "--cores", "2",
                                 "--configfile", "config/ci.yaml", str(extra)], cwd=REPO, capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"capped the sample at {CONFIG['max_stars']} " in (REPO / "logs/ci_seed7/prepare.log").read_text()
        assert "(seed 7)" in (REPO / "logs/ci_seed7/prepare.log").read_text()
        ids = [set(pd.read_csv(REPO / f"results/{task}/data/split.csv", dtype=str)["apogee_id"])
               for task in ("ci", "ci_seed7")]
        assert len(ids[0]) == len(ids[1]) and ids[0] != ids[1]
    finally:
        for folder in ("results", "logs", "benchmarks"):
            shutil.rmtree(REPO / folder / "ci_seed7", ignore_errors=True)


def test_information_bound_and_efficiency_at_every_ladder_level(ci_run):
    levels, labels = CONFIG["snr_ladder"]["levels"], list(CONFIG["labels"])
    bound = pd.read_csv(RESULTS / "information" / "bound.csv")  # the population's bound at each level
    assert set(bound["level"]) == set(levels) and (bound["population_bound"] > 0).all()
    assert set(bound["noise"]) == {"xp_template+ladder", "xp_template+ladder+intrinsic_scatter"}
    assert set(bound["parameter"]) == {*labels, "a_k"}  # the extinction a nuisance parameter of the Payne's model
    teff = bound[(bound["parameter"] == "teff") & (bound["noise"] == "xp_template+ladder")].set_index("level")
    assert teff.loc[min(levels), "population_bound"] > teff.loc[max(levels), "population_bound"]  # noisier: looser
    efficiency = pd.read_csv(RESULTS / "metrics" / "efficiency.csv")
    flux_only = [m for m in CONFIG["methods"] if CONFIG["method_settings"][m]["feature_set"] == "flux"]
    assert set(efficiency["method"]) == set(flux_only)  # only methods that see what the bound sees
    assert len(efficiency) == len(flux_only) * len(levels) * len(labels) * 2
    assert (efficiency["efficiency_lo"] <= efficiency["efficiency"]).all()
    assert (efficiency["efficiency"] <= efficiency["efficiency_hi"]).all()
    pixels = pd.read_csv(RESULTS / "information" / "pixels.csv")
    assert len(pixels) == 343 and {f"{s}_{label}" for s in ("giants", "dwarfs") for label in labels} <= set(pixels)
    shares = pixels.drop(columns="wavelength")
    assert (shares >= 0).all().all() and np.allclose(shares.sum(), 1)  # medians of each star's shares, renormalised


def test_abundance_or_correlation_for_every_method(ci_run):
    table = pd.read_csv(RESULTS / "metrics" / "abundance.csv")
    assert len(table) == 2 * len(CONFIG["methods"]) and set(table["subset"]) == {"all", "departing"}
    assert set(table["verdict"]) <= {"measures", "tie", "baseline better"} and (table["baseline_scatter"] > 0).all()


def test_influence_of_every_method_with_one_against_the_information(ci_run):
    methods = [m for m in CONFIG["methods"] if CONFIG["method_settings"][m]["type"] != "knn"]
    for method in methods:
        curve = pd.read_csv(RESULTS / "influence" / f"{method}.csv")
        assert len(curve) == 343 and curve["kind"].nunique() == 1
        shares = curve.drop(columns=["kind", "wavelength"])
        assert (shares >= 0).all().all() and np.allclose(shares.sum(), 1)
    summary = pd.read_csv(RESULTS / "metrics" / "influence.csv")
    assert set(summary["method"]) == {"information", *methods}
    assert len(summary) == (len(methods) + 1) * 2 * len(CONFIG["labels"])  # giants, dwarfs
    assert summary[["overlap_information", "overlap_fe_h"]].stack().between(0, 1 + 1e-9).all()
    own = summary[summary["label"] == "fe_h"]
    assert np.allclose(own["overlap_fe_h"], 1)


def test_anomalies_rank_every_test_star_worst_first(ci_run):
    ranking = pd.read_csv(RESULTS / "anomalies" / "ranking.csv")
    assert ranking["reduced_chi2"].is_monotonic_decreasing and len(ranking) > 300
    assert {"halpha", "blue_minus_red", "bad_pixel_fraction"} <= set(ranking.columns)
    stacked = pd.read_csv(RESULTS / "anomalies" / "stacked.csv")
    assert len(stacked) == 343 and stacked["giants_median"].abs().median() < 1  # the model fits the typical star


def test_crossmatch_statistics(ci_run):
    stats = yaml.safe_load((RESULTS / "crossmatch" / "stats.json").read_text())
    assert stats["n_undecoded"] == 0 and 0.3 < stats["matched_fraction"] < 0.5
    assert stats["separation_percentiles_arcsec"]["50"] < 0.2
    matches = pd.read_csv(RESULTS / "crossmatch" / "matches.csv")  # what the separation figure draws
    assert np.isclose(matches["matched"].mean(), stats["matched_fraction"])
    assert (matches.loc[matches["matched"], "separation_arcsec"] <= stats["radius_arcsec"]).all()
    assert (matches.loc[~matches["matched"], "separation_arcsec"] > 0).all()  # the nearest entry's, unmatched too


def test_report_contains_every_figure(ci_run, bulk_archive, tmp_path):
    report = tmp_path / "report.html"
    result = _snakemake(bulk_archive[0], "--report", str(report))
    assert result.returncode == 0, result.stderr[-3000:]
    names = report.read_text()
    for figure in ("separation.png", "kiel.png", "calibration.png", "costs.png", "snr_ladder.png", "learning_curve.png",
                   "summary.md"):
        assert figure in names, figure


def test_the_survey_stage_labels_the_chosen_chunks_and_gathers_them(ci_run, bulk_archive):
    _, names = bulk_archive
    methods = CONFIG["survey"]["methods"]
    chunks = [name.removesuffix(".csv.gz") for name in names]
    for method in methods:
        paths = [SURVEY / method / f"{chunk}.parquet" for chunk in chunks[:2]]
        catalogue = read_catalogue(paths)
        assert len(catalogue) == 300 and catalogue["source_id"].is_unique
        assert ((catalogue["flags"] & 8) > 0).sum() == 4  # two sources per chunk without BP
        assert catalogue[["teff", "logg"]].notna().all().all() and (catalogue["teff_err"] > 0).all()
        metadata = catalogue_metadata(paths[0])
        assert metadata["data_release"] == "Gaia DR3" and len(metadata["model_sha256"]) == 64
        assert metadata["trained_on"]["seed"] == CONFIG["seed"]
        assert not (SURVEY / method / f"{chunks[2]}.parquet").exists()  # files: 2
        summary = pd.read_csv(RESULTS.parent / CONFIG["survey"]["task"] / "metrics" / "survey" / f"{method}.csv")
        assert summary.set_index("quantity").loc["n_sources", "value"] == 300
        with Image.open(RESULTS.parent / CONFIG["survey"]["task"] / "figures" / "survey" / f"{method}.png") as image:
            image.verify()


def test_a_chunk_job_flags_as_the_training_set_itself_does(ci_run, bulk_archive, tmp_path):
    """The chunk jobs read each method's saved flags' training domain; labelling the chunk from the
    training set itself (the sample and split) gives the same catalogue, labels and flags."""
    _, names = bulk_archive
    task = RESULTS.parent / CONFIG["survey"]["task"]
    chunk = REPO / "resources" / "survey" / names[0]
    methods = CONFIG["survey"]["methods"]
    models = flagging_models(methods, [task / "models" / f"{m}.npz" for m in methods], 1, task / "data" / "sample.npz",
                             task / "data" / "split.csv", CONFIG["seed"])
    # the job's blocks: the Payne fits a block's stars as one single-precision batch, whose rounding the
    # block size sets, as the process's thread setup does (its labels agree to 1e-3, not bit for bit)
    label_file(chunk, models, [tmp_path / f"{m}.parquet" for m in methods], block_rows=CI_SURVEY["block_rows"],
               progress=False)
    cli(["label", "--model", str(task / "models" / f"{methods[0]}.npz"), "--domain",
         str(SURVEY / "domains" / f"{methods[0]}.npz"), "--spectra", str(chunk), "--out", str(tmp_path / "cli.parquet")])
    catalogue = SURVEY / methods[0] / f"{names[0].removesuffix('.csv.gz')}.parquet"
    pd.testing.assert_frame_equal(read_catalogue([tmp_path / "cli.parquet"]), read_catalogue([catalogue]))
    for method in methods:
        catalogue = SURVEY / method / f"{names[0].removesuffix('.csv.gz')}.parquet"
        single_precision_fit = KINDS[CONFIG["method_settings"][method]["type"]].spectrum_model
        pd.testing.assert_frame_equal(read_catalogue([tmp_path / f"{method}.parquet"]), read_catalogue([catalogue]),
                                      rtol=1e-3 if single_precision_fit else 1e-5)
        assert catalogue_metadata(catalogue)["flags_domain"]["file"].endswith(f"domains/{method}.npz")


def _interrupt_survey(method, chunk):
    """Leave the survey as an interrupted run does: the chunk's catalogue and the gathered outputs missing."""
    task = RESULTS.parent / CONFIG["survey"]["task"]
    for path in (SURVEY / method / f"{chunk}.parquet", task / "metrics" / "survey" / f"{method}.csv",
                 task / "figures" / "survey" / f"{method}.png"):
        path.unlink(missing_ok=True)


def test_the_survey_stage_resumes_and_a_corrupt_chunk_fails_only_its_job(ci_run, bulk_archive):
    archive, names = bulk_archive
    chunks = [name.removesuffix(".csv.gz") for name in names]
    method = CONFIG["survey"]["methods"][0]
    _interrupt_survey(method, chunks[0])
    planned = _snakemake(archive, "-n", "--quiet", "rules")
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert re.search(r"label_survey_chunk\s+1\n", planned.stdout)  # only the chunk not done
    downloaded = REPO / "resources" / "survey" / names[1]
    whole = downloaded.read_bytes()
    try:
        downloaded.write_bytes(whole[: len(whole) // 2])
        _interrupt_survey(method, chunks[1])
        result = _snakemake(archive, "--keep-going")
        assert result.returncode != 0
        assert (SURVEY / method / f"{chunks[0]}.parquet").exists()  # the good chunk is labelled
        assert not (SURVEY / method / f"{chunks[1]}.parquet").exists()
        log = (REPO / "logs" / "survey" / "label" / f"{chunks[1]}.log").read_text()
        assert f"{names[1]}: cannot read the XP continuous table, it is truncated or damaged" in log
    finally:
        downloaded.write_bytes(whole)  # the next run (the SLURM test's, or the user's) labels it again


SLURM_CONF = Path("/etc/slurm/slurm.conf")


def _start_single_node_slurm():
    """Install (Debian's slurm-wlm and munge) and start a one-node SLURM cluster on this machine; the
    reason it cannot, or None. The config goes where job steps find it without SLURM_CONF."""
    import os
    import shutil
    import socket

    if shutil.which("sbatch") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            return "sbatch is not installed and apt-get cannot install slurm-wlm here (not root or not Debian)"
        installed = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                                    "slurm-wlm", "munge"], capture_output=True,
                                   text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if installed.returncode != 0:
            return f"apt-get install slurm-wlm munge failed: {installed.stderr[-300:]}"
    if subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip() in ("idle", "mix"):
        return None  # a cluster is up already
    if SLURM_CONF.exists() and "ClusterName=labeltransfer" not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} is another cluster's config: not replaced"
    host = socket.gethostname()
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    for folder in ("/var/spool/slurmctld", "/var/spool/slurmd", "/var/log/slurm", "/run/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    # root daemons, no cgroups and no accounting database: what runs on a bare machine; MinJobAge keeps
    # finished jobs in squeue, which the executor plugin then reads for their status
    SLURM_CONF.write_text("\n".join([
        "ClusterName=labeltransfer", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory",
        "StateSaveLocation=/var/spool/slurmctld", "SlurmdSpoolDir=/var/spool/slurmd",
        "SlurmctldLogFile=/var/log/slurm/slurmctld.log", "SlurmdLogFile=/var/log/slurm/slurmd.log",
        "ReturnToService=2", "MinJobAge=3600",
        f"NodeName={host} CPUs={os.cpu_count()} RealMemory=16000 State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""]))
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["mungekey", "-f"], capture_output=True)
    subprocess.run(["chown", "-R", "munge:munge", "/run/munge", "/etc/munge"], capture_output=True)
    for command in (["runuser", "-u", "munge", "--", "/usr/sbin/munged"], ["slurmctld"], ["slurmd"]):
        subprocess.run(command, capture_output=True)
    for _ in range(30):
        if subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip() in ("idle", "mix"):
            return None
        time.sleep(1)
    return "slurmctld and slurmd started but the node never came up (see /var/log/slurm/)"


@pytest.mark.slurm
def test_the_survey_stage_runs_on_a_real_slurm_cluster(ci_run, bulk_archive):
    """The CI config's survey stage (labelling and gather) submitted through snakemake-executor-plugin-slurm
    to a one-node SLURM cluster started here; skipped, with the reason, where one cannot be."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install snakemake-executor-plugin-slurm")
    already_up = shutil.which("sinfo") is not None and subprocess.run(
        ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip() in ("idle", "mix")
    reason = _start_single_node_slurm()
    if reason:
        pytest.skip(f"no SLURM cluster: {reason}")
    try:
        _run_survey_on_slurm(bulk_archive)
    finally:
        if not already_up:  # leave the machine as it was: stop the daemons this test started
            subprocess.run(["scontrol", "shutdown"], capture_output=True)
            subprocess.run(["pkill", "-x", "slurmd"], capture_output=True)
            subprocess.run(["pkill", "-x", "munged"], capture_output=True)


def _run_survey_on_slurm(bulk_archive):
    task = RESULTS.parent / CONFIG["survey"]["task"]
    targets = [f"results/{task.name}/metrics/survey/{m}.csv" for m in CONFIG["survey"]["methods"]]
    before = {p: p.stat().st_mtime for p in SURVEY.rglob("*.parquet")}
    logs = REPO / ".snakemake" / "slurm_logs" / "rule_label_survey_chunk"
    result = _snakemake(bulk_archive[0], *targets, "--executor", "slurm", "--jobs", "4", "--slurm-no-account",
                        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
                        "--slurm-keep-successful-logs", "--forcerun", "label_survey_chunk")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "has been submitted with SLURM jobid" in result.stdout + result.stderr
    assert len(list(logs.rglob("*.log"))) >= 2  # a SLURM log per chunk job
    assert before and all(p.stat().st_mtime > t for p, t in before.items())  # every catalogue written again
    assert pd.read_csv(task / "metrics" / "survey" / f"{CONFIG['survey']['methods'][0]}.csv").set_index(
        "quantity").loc["n_sources", "value"] == 300
