import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from snakemake.utils import validate


def _applied(schema, root):
    """The subschemas that apply beside ``schema``'s own keywords: its ``allOf`` and its ``$ref`` (a local
    ``#/...`` pointer into ``root``; in draft 2020-12 a ``$ref`` applies beside its siblings)."""
    members = list(schema.get("allOf", []))
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        members.append(target)
    return members


def _allows_strings(schema, root):
    """Whether ``schema`` accepts some string: by its type, enum or const, and those of its ``$ref``,
    ``allOf``, ``anyOf`` and ``oneOf`` (a schema that says nothing of the type accepts one)."""
    if "type" in schema:
        own = "string" in ([schema["type"]] if isinstance(schema["type"], str) else schema["type"])
    else:
        own = any(isinstance(value, str) for value in schema.get("enum", [schema.get("const", "")]))
    alternatives = schema.get("anyOf", []) + schema.get("oneOf", [])
    return own and all(_allows_strings(member, root) for member in _applied(schema, root)) and (
        not alternatives or any(_allows_strings(member, root) for member in alternatives))


def _property_schema(schema, key):
    """The schema of an object's entry ``key``: properties, then patternProperties, then additionalProperties."""
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    for pattern, member in schema.get("patternProperties", {}).items():
        if re.search(pattern, key):
            return member
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else {}


def typed_by_schema(value, schema, root):
    """``value`` with every string at a place where ``schema`` allows no string read as YAML.

    Snakemake's ``--config`` parser reads a nested value with YAML's BaseLoader, which keeps every
    scalar a string (``--config 'survey={files: 3}'`` gives ``{'files': '3'}``, ``{files: null}``
    ``{'files': 'null'}``); typed here as the config file would have them. A string the schema
    allows stays as it is, and one that YAML cannot read is left for the validation to name.
    Follows ``$ref``, ``properties``, ``patternProperties``, ``additionalProperties``, ``items``,
    ``allOf``, ``anyOf``, ``oneOf`` and ``if``/``then``/``else``.
    """
    if isinstance(value, str):
        if _allows_strings(schema, root):
            return value
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    if isinstance(value, dict):
        value = {key: typed_by_schema(item, _property_schema(schema, key), root) for key, item in value.items()}
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [typed_by_schema(item, schema["items"], root) for item in value]
    for member in _applied(schema, root) + schema.get("anyOf", []) + schema.get("oneOf", []):
        value = typed_by_schema(value, member, root)
    if "if" in schema:
        holds = Draft202012Validator(root).evolve(schema=schema["if"]).is_valid(value)
        value = typed_by_schema(value, schema.get("then" if holds else "else", {}), root)
    return value


def _package_module(*parts):
    """A module of the package loaded from src/labeltransfer/<parts> without importing the package
    (the modules read here need nothing but the standard library)."""
    import importlib.util

    path = Path(workflow.basedir, "src", "labeltransfer", *parts)
    spec = importlib.util.spec_from_file_location(f"labeltransfer_{path.stem}", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


#: What each method type is and can do (labeltransfer.methods.kinds.KINDS).
KINDS = _package_module("methods", "kinds.py").KINDS
#: Which package files a script runs, and their digest.
CODE_VERSION = _package_module("code_version.py")
#: The survey's checksum manifest reader.
CHECKSUMS = _package_module("io", "checksums.py")


CONFIG_SCHEMA = yaml.safe_load(Path(workflow.basedir, "workflow", "schemas", "config.schema.yaml").read_text())
config.update(typed_by_schema(dict(config), CONFIG_SCHEMA, CONFIG_SCHEMA))
validate(config, schema="../schemas/config.schema.yaml")
if unknown := {name: entry["type"] for name, entry in config["method_settings"].items() if entry["type"] not in KINDS}:
    raise ValueError(f"config: method_settings: {unknown}: unknown method types (known: {', '.join(KINDS)}; "
                     "each is an entry of src/labeltransfer/methods/kinds.py)")

TASKS = config["tasks"]
if unknown := [t for t in TASKS if t not in config["task_settings"]]:
    raise ValueError(
        f"config: tasks {unknown} have no entry in task_settings "
        f"(which has: {', '.join(config['task_settings'])})"
    )
SOURCES = {task: config["task_settings"][task]["source"] for task in TASKS}
ARCHIVE_TASKS = [t for t in TASKS if SOURCES[t] != "xp_library"]
LAMOST_TASKS = [t for t in TASKS if SOURCES[t] == "lamost"]
#: Archive tasks of Gaia XP coefficients: the S/N ladder draws their noise with each star's covariance.
XP_ARCHIVE_TASKS = [t for t in TASKS if SOURCES[t] == "gaia_xp"]
#: Tasks with a cross-match step (the library with the parallax catalogue, or LAMOST).
CROSSMATCH_TASKS = [t for t in TASKS if SOURCES[t] in ("xp_library", "lamost")]
if ARCHIVE_TASKS and "archives" not in config:
    raise ValueError(
        f"config: tasks {ARCHIVE_TASKS} use the public archives but the config has no "
        "'archives' section (see config/full.yaml)"
    )
ARCHIVES = config.get("archives", {})
#: Gaia product (DataLink) of each Gaia task source.
GAIA_PRODUCT = {"gaia_xp": "xp_continuous", "gaia_rvs": "rvs"}
#: Each task's seed (its split, the methods' initialisations, the resamples): its task_settings' seed,
#: else the config's.
TASK_SEEDS = {task: config["task_settings"][task].get("seed", config["seed"]) for task in TASKS}
#: What every task's sample is built with (and the task's seed: sample_settings).
SAMPLE_SETTINGS = {
    key: config[key]
    for key in ("labels", "quality", "colours", "split", "max_stars")
}
#: The tasks the seed study summarises (config seed_study: tasks; none: no seed study).
SEED_STUDY_TASKS = config["seed_study"]["tasks"]
if SEED_STUDY_TASKS:
    if len(SEED_STUDY_TASKS) < 2:
        raise ValueError(f"config: seed_study: tasks {SEED_STUDY_TASKS}: a spread over seeds needs two tasks or more")
    if missing := [t for t in SEED_STUDY_TASKS if t not in TASKS]:
        raise ValueError(f"config: seed_study: tasks {missing} are not among tasks {TASKS}")
    if len({TASK_SEEDS[t] for t in SEED_STUDY_TASKS}) < len(SEED_STUDY_TASKS):
        raise ValueError(
            f"config: seed_study: tasks {SEED_STUDY_TASKS} need a seed each (task_settings: <task>: seed), "
            f"got {[TASK_SEEDS[t] for t in SEED_STUDY_TASKS]}"
        )
METHODS = config["methods"]
if unknown := [m for m in METHODS if m not in config["method_settings"]]:
    raise ValueError(
        f"config: methods {unknown} have no entry in method_settings "
        f"(which has: {', '.join(config['method_settings'])})"
    )
if abs(sum(config["split"].values()) - 1) > 1e-9:
    raise ValueError(f"config: split fractions must sum to 1, got {config['split']}")
for bins in ("snr_bins", "teff_bins"):
    if any(lo >= hi for lo, hi in zip(config[bins], config[bins][1:])):
        raise ValueError(f"config: {bins} must increase, got {config[bins]}")
if any(lo >= hi for lo, hi in zip(config["snr_ladder"]["levels"], config["snr_ladder"]["levels"][1:])):
    raise ValueError(f"config: snr_ladder: levels must increase, got {config['snr_ladder']['levels']}")
if bad := {b: v for b, v in config["wavelength_subsets"]["bands"].items() if v[0] >= v[1] or b == "all"}:
    raise ValueError(f"config: wavelength_subsets: bands {bad}: each needs lo < hi and a name other than 'all'")
if any(lo >= hi for lo, hi in zip(config["learning_curve"]["sizes"], config["learning_curve"]["sizes"][1:])):
    raise ValueError(f"config: learning_curve: sizes must increase, got {config['learning_curve']['sizes']}")
for name in METHODS:
    settings = config["method_settings"][name]
    params = settings.get("params", {})
    extra = params.get("extra_labels", [])
    if missing := [c for c in extra if c not in config["colours"]]:
        raise ValueError(
            f"config: method_settings: {name}: params: extra_labels {missing} are not among "
            f"colours {config['colours']}"
        )
    if KINDS[settings["type"]].extra_labels and settings["feature_set"] != (needed := "flux_colours" if extra else "flux"):
        raise ValueError(
            f"config: method_settings: {name}: feature_set {settings['feature_set']}: a {settings['type']} reads "
            f"auxiliary features only as its extra_labels ({extra}): set its feature_set to {needed}"
        )
    if settings["type"] != "cannon":
        continue
    regime_label = (params.get("regimes") or {}).get("label")
    if regime_label is not None and regime_label not in config["labels"]:
        raise ValueError(
            f"config: method_settings: {name}: params: regimes: label {regime_label!r} is not "
            f"among labels {list(config['labels'])}"
        )
#: The configured Cannon whose generative model gives the anomalies.
DIAGNOSTIC_CANNON = config["cannon_diagnostics"]["method"]
if config["method_settings"].get(DIAGNOSTIC_CANNON, {}).get("type") != "cannon" or DIAGNOSTIC_CANNON not in METHODS:
    raise ValueError(
        f"config: cannon_diagnostics: method {DIAGNOSTIC_CANNON!r} must be one of the methods of this run "
        f"({', '.join(METHODS)}) of type cannon"
    )
#: The method whose spectrum model carries the information bound (information.smk).
INFORMATION_MODEL = config["information"]["method"]
if INFORMATION_MODEL not in METHODS or not KINDS[config["method_settings"][INFORMATION_MODEL]["type"]].spectrum_model:
    raise ValueError(
        f"config: information: method {INFORMATION_MODEL!r} must be one of the methods of this run "
        f"({', '.join(METHODS)}) whose type models the spectrum "
        f"({', '.join(name for name, kind in KINDS.items() if kind.spectrum_model)})"
    )
if held := config["method_settings"][INFORMATION_MODEL].get("params", {}).get("extra_labels"):
    raise ValueError(
        f"config: information: method {INFORMATION_MODEL!r} holds {held} as extra labels: the bound needs a "
        "spectrum model of the flux alone (a Payne without extra_labels)"
    )
#: The survey-labelling stage (survey.smk): on when it labels any chunk.
SURVEY = config["survey"]
SURVEY_ON = SURVEY["files"] != 0
SURVEY_TASK = SURVEY["task"]
if SURVEY_ON and SURVEY_TASK not in TASKS:
    raise ValueError(f"config: survey: task {SURVEY_TASK!r} is not one of this run's tasks ({', '.join(TASKS)})")
if SURVEY_ON and (
    bad := {
        m: config["method_settings"].get(m, {}).get("feature_set")
        for m in SURVEY["methods"]
        if m not in METHODS or config["method_settings"][m]["feature_set"] != "flux"
    }
):
    raise ValueError(
        f"config: survey: methods {bad} must be methods of this run with feature_set flux (the XP "
        f"chunks carry no photometry or parallax); this run's methods: {', '.join(METHODS)}"
    )
#: What each of this run's methods is and can do (its type's entry in KINDS).
METHOD_KINDS = {m: KINDS[config["method_settings"][m]["type"]] for m in METHODS}
if bad := {m: config["method_settings"][m]["feature_set"] for m in METHODS
           if METHOD_KINDS[m].flux_only and config["method_settings"][m]["feature_set"] != "flux"}:
    raise ValueError(f"config: method_settings: {bad}: these methods' types read the flux alone: set their feature_set to flux")
#: Methods trained epoch by epoch, as ensembles: each gets a loss-curve and an ensemble-calibration figure.
NEURAL_METHODS = [m for m in METHODS if METHOD_KINDS[m].neural]
#: Methods whose labels respond smoothly to the flux: each gets a flux-influence table.
INFLUENCE_METHODS = [m for m in METHODS if METHOD_KINDS[m].influence]
#: Methods whose type models the spectrum: each gets the spectrum-model table and figure (spectrum_model.smk).
SPECTRUM_MODEL_METHODS = [m for m in METHODS if METHOD_KINDS[m].spectrum_model]
#: Labels a comparison figure needs; a figure whose labels the config lacks is not made.
FIGURE_LABELS = {"kiel": {"teff", "logg", "fe_h"}, "alpha_fe": {"fe_h", "alpha_m"}}
COMPARISON_FIGURES = [
    figure
    for figure in ["scatter_vs_snr", "kiel", "alpha_fe", "calibration", "costs"]
    if FIGURE_LABELS.get(figure, set()) <= set(config["labels"])
]
DATASETS = {
    name: Path(entry["member"]).name for name, entry in config["data"].items()
}


#: Whether this run makes each feature's outputs: one condition each, here and nowhere else. A
#: feature's rules are in workflow/rules/<feature>.smk, its steps in labeltransfer.pipeline.<feature>.
#: archives.smk and training.smk have no switch: their files are what the other features' jobs ask for.
FEATURES = {
    "sample": bool(CROSSMATCH_TASKS),  # the figure of each cross-match
    "prediction": True,
    "evaluation": True,
    "snr_ladder": True,
    "learning_curve": True,
    "wavelength_subsets": bool(config["wavelength_subsets"]["bands"]),
    "information": True,
    "influence": bool(INFLUENCE_METHODS),
    "anomalies": True,
    "trends": True,
    "abundance": {"teff", "logg", "fe_h", "alpha_m"} <= set(config["labels"]),
    "neural": bool(NEURAL_METHODS),
    "spectrum_model": bool(SPECTRUM_MODEL_METHODS),
    "survey": SURVEY_ON,
    "seed_study": bool(SEED_STUDY_TASKS),
}
#: The final outputs of each feature: what rule all asks for while the feature is on.
FEATURE_TARGETS = {
    "sample": expand("results/{task}/crossmatch/separation.png", task=CROSSMATCH_TASKS),
    "prediction": expand("results/{task}/figures/one_to_one/{method}.png", task=TASKS, method=METHODS),
    "evaluation": [*expand("results/{task}/metrics/summary.{ext}", task=TASKS, ext=["csv", "md"]),
                   *expand("results/{task}/figures/{figure}.png", task=TASKS, figure=COMPARISON_FIGURES),
                   *expand("results/{task}/figures/calibration_per_bin.png", task=TASKS)],
    "snr_ladder": expand("results/{task}/figures/snr_ladder.png", task=TASKS),
    "learning_curve": expand("results/{task}/figures/learning_curve.png", task=TASKS),
    "wavelength_subsets": expand("results/{task}/metrics/wavelength_subsets.csv", task=TASKS),
    "information": expand("results/{task}/figures/information.png", task=TASKS),
    "influence": expand(["results/{task}/figures/influence.png", "results/{task}/metrics/influence.csv"], task=TASKS),
    "anomalies": expand("results/{task}/figures/anomalies.png", task=TASKS),
    "trends": expand("results/{task}/figures/residual_trends.png", task=TASKS),
    "abundance": expand("results/{task}/metrics/abundance.csv", task=TASKS),
    "spectrum_model": expand(["results/{task}/metrics/spectrum_model/{method}.csv",
                              "results/{task}/figures/spectrum_model/{method}.png"], task=TASKS,
                             method=SPECTRUM_MODEL_METHODS),
    "neural": expand(["results/{task}/figures/loss_curve/{method}.png",
                      "results/{task}/figures/ensemble_calibration/{method}.png"], task=TASKS, method=NEURAL_METHODS),
    "survey": expand(["results/{task}/metrics/survey/{method}.csv", "results/{task}/figures/survey/{method}.png"],
                     task=SURVEY_TASK, method=SURVEY["methods"]),
    "seed_study": ["results/seed_study/summary.md"],
}


def all_outputs():
    """The final outputs of every feature this run makes (:data:`FEATURES`)."""
    return [path for feature, on in FEATURES.items() if on for path in FEATURE_TARGETS[feature]]


def one_of(names):
    """A wildcard pattern matching exactly the given names (nothing when there are none)."""
    return "|".join(names) if names else "(?!x)x"


wildcard_constraints:
    task=one_of(TASKS),
    method="|".join(METHODS),
    dataset="|".join(DATASETS),
    figure="|".join(COMPARISON_FIGURES),


# The input functions and params, grouped by the file of the rules that use them

# Every rule

def script_code(name):
    """Digest of the package code that workflow/scripts/<name>.py runs: a param of its rule, so
    that a change in that code (and only there) reruns the rule's jobs."""
    return CODE_VERSION.code_digest(
        Path(workflow.basedir, "workflow", "scripts", f"{name}.py"),
        Path(workflow.basedir, "src"),
    )


def task_seed(wildcards):
    """The seed of the job's task (TASK_SEEDS)."""
    return TASK_SEEDS[wildcards.task]


# archives.smk

def dataset_path(name):
    """Where the data file of config['data'][name] is extracted."""
    return f"resources/{name}/{DATASETS[name]}"


def archive_file(name):
    """Local path of a catalogue of config['archives'] ('allstar' or 'lamost_catalogue')."""
    if name == "allstar":
        return f"resources/archives/allstar/{ARCHIVES['allstar']['file']}"
    return f"resources/archives/lamost_catalogue/{ARCHIVES['lamost']['catalogue_file']}"


# sample.smk

def sample_settings(wildcards):
    """What the task's sample is built with: SAMPLE_SETTINGS and the task's seed."""
    return {**SAMPLE_SETTINGS, "seed": TASK_SEEDS[wildcards.task]}


def crossmatch_inputs(wildcards):
    """Inputs of a task's cross-match: the library and the parallax catalogue (xp_library), or
    the allStar labels, the LAMOST catalogue and the Gaia sources (lamost)."""
    if SOURCES[wildcards.task] == "xp_library":
        return {"library": dataset_path("library"), "catalogue": dataset_path("parallax_catalogue")}
    return {
        "labels": "results/archives/apogee_labels.csv",
        "catalogue": archive_file("lamost_catalogue"),
        "sources": "results/archives/gaia_sources.csv",
    }


def sample_inputs(wildcards):
    """Inputs of a task's sample: the library and its matches (xp_library), or the labels, the
    spectra and (lamost) the matches of an archive task."""
    source = SOURCES[wildcards.task]
    if source == "xp_library":
        return {"library": dataset_path("library"), "matches": f"results/{wildcards.task}/crossmatch/matches.csv"}
    inputs = {"labels": "results/archives/apogee_labels.csv"}
    if source == "lamost":
        inputs["spectra"] = f"resources/archives/lamost_spectra/{wildcards.task}.csv"
        inputs["matches"] = f"results/{wildcards.task}/crossmatch/matches.csv"
    else:
        inputs["spectra"] = f"resources/archives/gaia_{GAIA_PRODUCT[source]}/manifest.csv"
    return inputs


# The jobs of one method (training.smk, prediction.smk and the diagnostics')

def method_config(wildcards):
    """The config entry of the {method} wildcard."""
    return config["method_settings"][wildcards.method]


def method_gpus(wildcards):
    """1 for methods whose type can use a GPU (a framework in KINDS), else 0."""
    return int(METHOD_KINDS[wildcards.method].framework is not None)


# evaluation.smk (trends.smk and abundance.smk read the same predictions)

def all_predictions(wildcards):
    """Test-set predictions of every configured method for the {task}."""
    return expand(
        "results/{task}/predictions/{method}.csv", task=wildcards.task, method=METHODS
    )


def all_timings(wildcards):
    """Fit and predict timings of every configured method for the {task}."""
    return {
        "fit": expand(
            "results/{task}/models/{method}.fit.json", task=wildcards.task, method=METHODS
        ),
        "predict": expand(
            "results/{task}/predictions/{method}.json", task=wildcards.task, method=METHODS
        ),
    }


# snr_ladder.smk

def ladder_predictions(wildcards):
    """S/N-ladder predictions of every configured method for the {task}."""
    return expand(
        "results/{task}/snr_ladder/{method}.csv", task=wildcards.task, method=METHODS
    )


def ladder_noise(wildcards):
    """The XP noise model of a Gaia XP archive task's S/N ladder (none for the other tasks)."""
    if wildcards.task in XP_ARCHIVE_TASKS:
        return {"noise": f"results/{wildcards.task}/snr_ladder/xp_noise.npz"}
    return {}


# learning_curve.smk

def curve_predictions(wildcards):
    """Learning-curve predictions of every configured method for the {task}."""
    return expand(
        "results/{task}/learning_curve/{method}.csv", task=wildcards.task, method=METHODS
    )


# wavelength_subsets.smk

def subset_predictions(wildcards):
    """Wavelength-subset predictions of every configured method for the {task}."""
    return expand(
        "results/{task}/wavelength_subsets/{method}.csv", task=wildcards.task, method=METHODS
    )


# influence.smk

def influence_tables(wildcards):
    """Flux-influence tables of every method that has one, for the {task}."""
    return expand(
        "results/{task}/influence/{method}.csv", task=wildcards.task, method=INFLUENCE_METHODS
    )


# survey.smk

def survey_chunks():
    """The chunks the survey stage labels: the manifest's files (survey_manifest, a checkpoint) that
    match the pattern, the first ``files`` of them (sorted) or those named; without .csv.gz."""
    import fnmatch

    manifest = checkpoints.survey_manifest.get().output.manifest
    names = CHECKSUMS.read_checksum_manifest(Path(manifest).read_text())
    listed = sorted(n for n in names if fnmatch.fnmatch(n, SURVEY["pattern"]))
    if not listed:
        raise ValueError(
            f"config: survey: pattern {SURVEY['pattern']!r} matches none of the {len(names)} files that {manifest} "
            f"lists (e.g. {', '.join(sorted(names)[:2]) or 'none'}): set survey: pattern to a glob of its chunk names"
        )
    if isinstance(SURVEY["files"], list):
        if missing := [n for n in SURVEY["files"] if n not in listed]:
            raise ValueError(f"config: survey: files {missing} are not in {manifest} ({len(listed)} chunks listed)")
        chosen = SURVEY["files"]
    else:
        chosen = listed if SURVEY["files"] is None else listed[: SURVEY["files"]]
    return [n.removesuffix(".gz").removesuffix(".csv") for n in chosen]


def survey_catalogues(wildcards):
    """The catalogue chunks of the {method} for every chunk the survey stage labels."""
    return expand(
        "results/{task}/survey/{method}/{chunk}.parquet", task=SURVEY_TASK, method=wildcards.method, chunk=survey_chunks()
    )
