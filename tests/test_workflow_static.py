"""Static checks of the workflow: config schema, per-rule conda envs, lint."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from conftest import workflow_checkout
from labeltransfer.code_version import run_imports

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "workflow" / "rules"
SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
#: Import names whose conda package is called differently.
#: Not third-party: snakemake itself and the helper modules beside the scripts.
LOCAL_MODULES = {"snakemake"} | {p.stem for p in (REPO / "workflow" / "scripts").glob("_*.py")}
CONDA_NAMES = {"torch": "pytorch", "yaml": "pyyaml", "sklearn": "scikit-learn", "matplotlib": "matplotlib-base", "erfa": "pyerfa",
               "astropy_healpix": "astropy-healpix", "isal": "python-isal"}


def _config(name="config.yaml"):
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["ci.yaml", "parallax_study.yaml", "second_seed.yaml", "seeds.yaml", "full.yaml"])
def test_shipped_configs_validate(name):
    """Each config as the workflow sees it: merged into config/config.yaml."""
    from snakemake.utils import update_config

    config = _config()
    validate(config, SCHEMA)
    update_config(config, _config(name))
    validate(config, SCHEMA)
    assert set(config["methods"]) <= set(config["method_settings"])


@pytest.mark.parametrize("path", sorted((REPO / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_need_no_server_of_the_tests(path):
    """A config a user is told to run needs nothing else started: no address on this machine (the tests'
    fake archives add theirs themselves, e.g. conftest.ci_snakemake)."""
    settings = yaml.safe_dump(yaml.safe_load(path.read_text()))  # its keys and values, not its comments
    assert not re.search(r"127\.0\.0\.1|localhost", settings), path.name


def test_parallax_study_twins_differ_from_the_defaults_only_in_their_features():
    defaults, study = _config()["method_settings"], _config("parallax_study.yaml")["method_settings"]
    for name, twin in study.items():
        default = defaults[name.removesuffix("_no_parallax")]
        assert twin == {**default, "feature_set": "flux_colours"}, name
        assert default["feature_set"] == "flux_colours_parallax", name


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c.update(sede=1), "sede"),
    (lambda c: c["split"].update(train="0.7"), "0.7"),
    (lambda c: c.update(methods="cannon"), "cannon"),
    (lambda c: c["labels"]["teff"].pop("max_err"), "max_err"),
    (lambda c: c["crossmatch"].update(radius_arcsec=-1), "-1"),
    (lambda c: c.update(seed=-1), "-1"),
    (lambda c: c["method_settings"]["mlp"]["params"].update(hidden_sizes=64), "64"),
    (lambda c: c["method_settings"]["mlp"]["params"].update(epochs=0), "0 is less than the minimum of 1"),
    (lambda c: c["method_settings"]["cnn"]["params"].update(n_members=0), "0 is less than the minimum of 1"),
    (lambda c: c["method_settings"]["mlp"]["params"].update(hiden_sizes=[64]), "hiden_sizes"),
    (lambda c: c["method_settings"]["cannon"]["params"].update(ordr=3), "ordr"),
    (lambda c: c["method_settings"]["xgboost"]["params"].update(max_depth="6"), "'6'"),
    (lambda c: c["method_settings"]["knn"].update(params={"n_neighbors": 5}), "n_neighbors"),
    (lambda c: c["method_settings"]["cannon"]["params"].update(regimes={"label": "teff"}), "edges"),
])
def test_bad_config_is_refused_naming_the_key(mutate, key):
    config = copy.deepcopy(_config())
    mutate(config)
    with pytest.raises(Exception, match=re.escape(key)):
        validate(config, SCHEMA)


@pytest.mark.parametrize("method_type", ["cannon", "xgboost", "mlp", "cnn", "knn"])
def test_schema_params_of_each_type_are_its_constructor_arguments(method_type):
    """The schema's per-type params name exactly the constructor's arguments, so neither drifts."""

    from labeltransfer.methods import METHOD_CLASSES

    defs = yaml.safe_load(Path(SCHEMA).read_text())["$defs"]
    params = defs[f"{method_type}_params"]
    names = set(params["properties"])
    if params.get("$ref"):
        names |= set(defs[params["$ref"].rsplit("/", 1)[1]]["properties"])
    arguments = set(METHOD_CLASSES[method_type].param_names())
    assert names == arguments - {"threads", "device"}  # those two the workflow sets from the job


def _rules():
    """(rule name, conda env path, script path) of every rule with a script."""
    found = []
    for smk in sorted(RULES.glob("*.smk")):
        for block in re.split(r"^(?:rule|checkpoint) ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0]
            conda = re.search(r"conda:\s+\"([^\"]+)\"", block)
            script = re.search(r"script:\s+\"([^\"]+)\"", block)
            if script:
                found.append((name, (RULES / conda.group(1)).resolve() if conda else None,
                              (RULES / script.group(1)).resolve()))
    return found


def _third_party_imports(script):
    """Top-level third-party modules that a script imports, itself or through the package."""
    return {name.split(".")[0] for name in run_imports(script, REPO / "src")} - {"labeltransfer"} \
        - sys.stdlib_module_names - LOCAL_MODULES


def _env_packages(env_file):
    """Conda packages of an env file, and those of its pip section."""
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    names = [d for d in deps if isinstance(d, str)]
    names += [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
    return {re.split(r"[ =<>]", d)[0].lower() for d in names}


@pytest.mark.parametrize("rule, env, script", _rules(), ids=lambda v: getattr(v, "name", str(v)))
def test_rule_env_lists_every_import_of_its_script(rule, env, script):
    assert env is not None and env.exists(), f"rule {rule} has no conda env file"
    needed = {CONDA_NAMES.get(m, m) for m in _third_party_imports(script)}
    missing = needed - _env_packages(env)
    assert not missing, f"rule {rule}: {env.name} lacks {sorted(missing)}"


def test_import_scan_follows_the_package():
    modelling = _third_party_imports(REPO / "workflow" / "scripts" / "train_method.py")
    assert {"numpy", "xgboost", "scipy", "tqdm", "pandas", "torch"} <= modelling
    assert "astropy" not in modelling  # training reads the sample, not the survey files
    sample = _third_party_imports(REPO / "workflow" / "scripts" / "prepare_sample.py")
    assert "astropy" in sample and not {"torch", "xgboost", "matplotlib"} & sample  # no method, no figure
    assert "pyvo" in _third_party_imports(REPO / "workflow" / "scripts" / "query_gaia_sources.py")


def test_each_feature_has_one_rule_file_and_one_pipeline_module():
    """A feature's rules are in workflow/rules/<feature>.smk and the package functions their scripts call in
    labeltransfer.pipeline.<feature> (what several share: pipeline/jobs.py and files.py); common.smk
    switches on only these."""
    features = {smk.stem for smk in RULES.glob("*.smk")} - {"common"}
    modules = {path.stem for path in (REPO / "src" / "labeltransfer" / "pipeline").glob("*.py")}
    assert modules - {"__init__", "jobs", "files"} == features
    switches = (RULES / "common.smk").read_text().split("\nFEATURES = {", 1)[1].split("\n}", 1)[0]
    switched = re.findall(r'^    "(\w+)": ', switches, flags=re.M)
    assert switched and set(switched) <= features and len(switched) == len(set(switched))
    for rule, _, script in _rules():
        smk = next(smk.stem for smk in RULES.glob("*.smk") if re.search(rf"^(rule|checkpoint) {rule}:", smk.read_text(),
                                                                            flags=re.M))
        called = set(re.findall(r"^from labeltransfer\.pipeline\.(\w+) import", script.read_text(), flags=re.M))
        assert called <= {smk}, f"rule {rule} ({smk}.smk): {script.name} calls labeltransfer.pipeline.{called}"


def test_every_rule_takes_its_task_s_seed():
    """Rules read the seed through task_seed (a task's own seed, else the config's), never config['seed']."""
    for smk in RULES.glob("*.smk"):
        if smk.stem != "common":
            assert 'config["seed"]' not in smk.read_text(), smk.name


def test_every_output_path_is_written_by_one_rule():
    """No two rules declare the same output pattern (one rule per path, whatever the config's tasks)."""
    outputs = []
    for smk in RULES.glob("*.smk"):
        for block in re.split(r"^(?:rule|checkpoint) ", smk.read_text(), flags=re.M)[1:]:
            section = block.split("    output:", 1)[1].split("    log:", 1)[0]
            outputs += re.findall(r'"((?:results|resources)/[^"]+)"', section)
    assert outputs and len(outputs) == len(set(outputs)), sorted({p for p in outputs if outputs.count(p) > 1})


def test_every_rule_has_log_conda_benchmark_threads_resources():
    for smk in RULES.glob("*.smk"):
        for block in re.split(r"^(?:rule|checkpoint) ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0]
            for directive in ("log:", "conda:", "benchmark:", "threads:", "resources:"):
                assert f"    {directive}" in block, f"rule {name} in {smk.name} lacks {directive}"


def test_snakemake_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("override, message", [
    ("methods: [cannon, payne, slam]", "methods ['slam'] have no entry in method_settings"),
    ("method_settings: {cannon: {type: slam}}", "{'cannon': 'slam'}: unknown method types (known: knn, cannon,"),
    ("methods: [knn, cannon]", "information: method 'payne' must be one of the methods of this run (knn, cannon)"),
    ("split: {train: 0.8, validation: 0.15, test: 0.15}", "split fractions must sum to 1"),
    ("seed: forty-two", "forty-two"),
    ("tasks: [xp_from_apogee, lamost_dr10]", "tasks ['lamost_dr10'] have no entry in task_settings"),
    ("tasks: [lamost_only]\ntask_settings: {lamost_only: {source: lamost}}",
     "tasks ['lamost_only'] use the public archives but the config has no 'archives' section"),
    ("task_settings: {xp_from_apogee: {source: sdss}}", "sdss"),
    ("snr_bins: [10, 60, 30, 200, .inf]", "snr_bins must increase"),
    ("teff_bins: [3000, 5000, 4000]", "teff_bins must increase"),
    ("colours: []", "extra_labels ['bp_rp', 'g_h'] are not among colours []"),
    ("method_settings: {payne: {params: {extra_labels: [bp_rp]}}}",
     "payne: feature_set flux: a payne reads auxiliary features only as its extra_labels (['bp_rp']): set its "
     "feature_set to flux_colours"),
    ("method_settings: {cannon: {feature_set: flux_colours_parallax}}",
     "cannon: feature_set flux_colours_parallax: a cannon reads auxiliary features only as its extra_labels"),
    ("method_settings: {payne: {feature_set: flux_colours, params: {extra_labels: [bp_rp]}}}",
     "information: method 'payne' holds ['bp_rp'] as extra labels: the bound needs a spectrum model of the flux"),
    ("seed_study: {tasks: [xp_from_apogee]}", "a spread over seeds needs two tasks or more"),
    ("seed_study: {tasks: [xp_from_apogee, xp_seed7]}", "seed_study: tasks ['xp_seed7'] are not among tasks"),
    ("tasks: [xp_from_apogee, xp_again]\ntask_settings: {xp_again: {source: xp_library}}\n"
     "seed_study: {tasks: [xp_from_apogee, xp_again]}", "need a seed each (task_settings: <task>: seed), got [42, 42]"),
])
def test_workflow_refuses_bad_config_at_start_up(tmp_path, override, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(override + "\n")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def _dry_run(folder, *args):
    """``snakemake -n`` with ``args`` in ``folder``."""
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", *args], cwd=folder,
                          capture_output=True, text=True)


def test_nested_config_values_are_typed_by_the_schema(tmp_path):
    """Snakemake's --config parser leaves nested scalars strings ('3', 'null', '.inf'); the workflow types
    each where the schema allows no string, at any depth (through $ref, additionalProperties, if/then)."""
    result = _dry_run(workflow_checkout(tmp_path), "--config", "survey={files: null, block_rows: 500}",
                      "snr_bins=[10, 30, .inf]", "method_settings={knn: {params: {n_neighbours: 7}}}", "max_stars=null")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "survey_manifest" in result.stdout  # files: null, all chunks: the stage is on


def test_a_survey_pattern_that_matches_no_chunk_is_refused_naming_it_and_the_manifest(tmp_path):
    folder = workflow_checkout(tmp_path)
    manifest = folder / "resources" / "survey" / "_MD5SUM.txt"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("".join(f"{'0' * 32}  XpContinuousMeanSpectrum_{n}.csv.gz\n" for n in ("000000-003111",
                                                                                            "003112-005263")))
    (folder / "rvs.yaml").write_text(yaml.safe_dump({"survey": {"files": 2, "pattern": "RvsMeanSpectrum_*.csv.gz"}}))
    result = _dry_run(folder, "--configfile", "rvs.yaml")
    assert result.returncode != 0
    assert ("survey: pattern 'RvsMeanSpectrum_*.csv.gz' matches none of the 2 files that "
            "resources/survey/_MD5SUM.txt lists") in result.stdout + result.stderr


def _dry_run_without_label(tmp_path, label, regime_label="teff"):
    """Dry run of a copy of the workflow whose config/config.yaml lacks ``label`` (a --configfile
    cannot remove one: mappings are merged), its Cannon's regimes set on ``regime_label``."""
    import shutil

    for part in ("Snakefile", "workflow", "config", "src"):
        copy_tree = shutil.copytree if (REPO / part).is_dir() else shutil.copy
        copy_tree(REPO / part, tmp_path / part)
    config = _config()
    del config["labels"][label]
    config["method_settings"]["cannon"]["params"]["regimes"]["label"] = regime_label
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall"], cwd=tmp_path,
                          capture_output=True, text=True)


def test_the_seed_study_plans_a_task_per_seed_and_its_summary(tmp_path):
    result = _dry_run(workflow_checkout(tmp_path), "--configfile", "config/seeds.yaml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M))
    assert jobs["evaluate_seed_study"] == "1" and jobs["prepare_sample"] == "5" and jobs["evaluate_methods"] == "5"


def test_a_figure_whose_labels_the_config_lacks_is_not_made(tmp_path):
    """Without [alpha/M] there is no [alpha/M]-[Fe/H] figure; the Kiel diagram stays."""
    result = _dry_run_without_label(tmp_path, "alpha_m")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "figures/kiel.png" in result.stdout and "figures/alpha_fe.png" not in result.stdout


def test_a_cannon_regime_on_a_label_the_config_lacks_is_refused(tmp_path):
    result = _dry_run_without_label(tmp_path, "fe_h", regime_label="fe_h")
    assert result.returncode != 0
    assert "method_settings: cannon: params: regimes: label 'fe_h' is not among labels" in result.stdout + result.stderr


def test_full_config_shows_the_whole_archive_job_graph():
    """config/full.yaml: three archive tasks, every method each, from the download rules on."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--configfile", "config/full.yaml"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M))
    n_methods = len(_config()["methods"])
    assert counts["download_archive_catalogue"] == "2" and counts["fetch_gaia_spectra"] == "2"
    assert counts["crossmatch"] == "1" and counts["prepare_sample"] == "3"
    assert counts["train_method"] == str(3 * n_methods) and counts["evaluate_methods"] == "3"
    assert "download_dataset" not in counts  # the archive tasks do not need the default library


def test_gpu_rules_are_tagged_and_run_with_gpu_zero():
    """Rules of GPU-capable methods ask for gpu=1; --resources gpu=0 caps them to the CPU."""
    def dry_run(*extra):
        return subprocess.run([sys.executable, "-m", "snakemake", "results/ci/models/mlp.npz",
                               "results/ci/models/cannon.npz", "-n", "--forceall", *extra, "--configfile",
                               "config/ci.yaml"], cwd=REPO, capture_output=True, text=True)

    tagged, capped = dry_run(), dry_run("--resources", "gpu=0")
    assert tagged.returncode == 0 and capped.returncode == 0, tagged.stderr + capped.stderr
    jobs = [block for block in tagged.stdout.split("rule train_method:")[1:]]
    gpus = {("mlp" if "method=mlp" in job else "cannon"): re.search(r"gpu=(\d)", job).group(1) for job in jobs}
    assert gpus == {"mlp": "1", "cannon": "0"}
    assert "method=mlp" in capped.stdout and "gpu=1" not in capped.stdout


def test_config_reference_is_generated_from_the_schema():
    """config/README.md documents every key: it is what workflow/schemas/make_reference.py prints."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_reference", REPO / "workflow" / "schemas" / "make_reference.py")
    make_reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_reference)
    assert (REPO / "config" / "README.md").read_text() == make_reference.reference(), (
        "config/README.md is stale: python workflow/schemas/make_reference.py > config/README.md")
    assert "| `method_settings.<name>.params` |" in make_reference.reference()
