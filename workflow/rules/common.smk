from pathlib import Path

from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")

TASK = config["task"]
METHODS = config["methods"]
if unknown := [m for m in METHODS if m not in config["method_settings"]]:
    raise ValueError(
        f"config: methods {unknown} have no entry in method_settings "
        f"(which has: {', '.join(config['method_settings'])})"
    )
if abs(sum(config["split"].values()) - 1) > 1e-9:
    raise ValueError(f"config: split fractions must sum to 1, got {config['split']}")
#: Method types that can run on a GPU (their jobs get the resource gpu=1).
GPU_METHOD_TYPES = {"xgboost", "mlp", "cnn"}
#: Method types trained epoch by epoch, as ensembles; each gets a loss-curve and an
#: ensemble-calibration figure.
NEURAL_METHOD_TYPES = {"mlp", "cnn"}
NEURAL_METHODS = [
    m for m in METHODS if config["method_settings"][m]["type"] in NEURAL_METHOD_TYPES
]
COMPARISON_FIGURES = ["scatter_vs_snr", "kiel", "alpha_fe", "calibration", "costs"]
DATASETS = {
    name: Path(entry["member"]).name for name, entry in config["data"].items()
}


wildcard_constraints:
    task=TASK,
    method="|".join(METHODS),
    dataset="|".join(DATASETS),
    figure="|".join(COMPARISON_FIGURES),


def dataset_path(name):
    """Where the data file of config['data'][name] is extracted."""
    return f"resources/{name}/{DATASETS[name]}"


def method_config(wildcards):
    """The config entry of the {method} wildcard."""
    return config["method_settings"][wildcards.method]


def method_gpus(wildcards):
    """1 for methods that can use a GPU, else 0."""
    return int(config["method_settings"][wildcards.method]["type"] in GPU_METHOD_TYPES)


def all_predictions(wildcards):
    """Test-set predictions of every configured method."""
    return expand("results/{task}/predictions/{method}.csv", task=TASK, method=METHODS)


def all_timings(wildcards):
    """Fit and predict timings of every configured method."""
    return {
        "fit": expand("results/{task}/models/{method}.fit.json", task=TASK, method=METHODS),
        "predict": expand("results/{task}/predictions/{method}.json", task=TASK, method=METHODS),
    }


def all_outputs():
    """The final targets: metrics and every figure."""
    return [
        f"results/{TASK}/metrics/summary.csv",
        f"results/{TASK}/metrics/summary.md",
        f"results/{TASK}/crossmatch/separation.png",
        *expand("results/{task}/figures/one_to_one/{method}.png", task=TASK, method=METHODS),
        *expand("results/{task}/figures/{figure}.png", task=TASK, figure=COMPARISON_FIGURES),
        *expand(
            "results/{task}/figures/{figure}/{method}.png",
            task=TASK,
            figure=["loss_curve", "ensemble_calibration"],
            method=NEURAL_METHODS,
        ),
    ]


def code_hash(folder):
    """sha256 of the package's method code: a param, so that retraining follows code changes."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(workflow.basedir, folder).rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


METHODS_CODE_HASH = code_hash("src/labeltransfer/methods")
