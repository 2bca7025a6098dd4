"""The Payne's fit-time settings compared on the validation split, with one trained emulator.

The prior, the misfit's shared modes, the iterations and the restarts act only when a star is
fitted: each variant (a JSON object of those settings) takes the run's trained Payne
(``results/<task>/models/<method>.npz``), sets them, refits what they change on the training
stars (the prior's mixture; the misfit, on the model's 2,000 training stars, every variant's from
the emulator's own scatter as training does) and fits every
validation star. One line per variant: the robust scatter of each parameter (the labels, and
A_K against the sample's ``AK_TARG`` where fitted), the median reduced chi-square, the fraction
restarted and the stars per second (one process, ``--threads``); then each later variant's
scatter minus the first's with the 95% interval over the same bootstrap resamples of the
stars (an interval that holds zero is a tie). Run after the workflow (its model)::

    python bench/payne_fit_choices.py '{}' '{"prior": "none"}' '{"prior": "gaussian"}'
    python bench/payne_fit_choices.py '{}' '{"max_iter": 30, "restarts": 8}' '{"misfit_modes": 10}'
    python bench/payne_fit_choices.py '{}' '{"misfit_scatter": "mean"}'

The test split is never read.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.data.sample import LabelledSample  # noqa: E402
from labeltransfer.data.split import read_split  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter  # noqa: E402
from labeltransfer.evaluation.summary import bootstrap_scatter_bias  # noqa: E402
from labeltransfer.methods import load_method  # noqa: E402
from labeltransfer.methods.payne import SCATTER_STARS  # noqa: E402

#: Settings a variant may change (they act at fit time only).
FIT_SETTINGS = ("prior", "prior_components", "misfit_modes", "misfit_scatter", "max_iter", "restarts", "restart_chi2")
RESAMPLES = 500


def _parameters(sample, rows, model):
    """The reference parameters of ``rows`` in the model's order (labels, then A_K where fitted)."""
    columns = [sample.labels[rows]] + ([sample.extinction_k[rows, None]] if "a_k" in model.parameter_names_ else [])
    return np.hstack(columns)


def fit_variant(model, variant, sample, rows):
    """Set ``variant`` on ``model``, refit what it changes on the training stars, fit the validation stars;
    return the fits and the seconds of the validation fit."""
    unknown = sorted(set(variant) - set(FIT_SETTINGS))
    if unknown:
        raise SystemExit(f"payne_fit_choices: {unknown} are no fit-time settings (these are: {', '.join(FIT_SETTINGS)})")
    model.set_params(**variant)
    train = _parameters(sample, rows["train"], model)
    known = np.all(np.isfinite(train), axis=1)
    model._fit_prior(model._standard(train[known]))
    stars = rows["train"][known][np.random.default_rng(model.random_state).permutation(known.sum())[:SCATTER_STARS]]
    model._fit_misfit(sample.subset(stars).spectra.select_aux([]))
    spectra = sample.subset(rows["validation"]).spectra.select_aux([])
    start = time.perf_counter()
    fits = model.fit_stars(spectra)
    return fits, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", help="JSON objects of fit-time settings; the first is the reference")
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--task", default="xp_from_apogee")
    parser.add_argument("--method", default="payne")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    results = Path("results") / args.task
    sample = LabelledSample.load(results / "data" / "sample.npz")
    rows = read_split(results / "data" / "split.csv", sample)
    residuals = []
    for variant in args.variants:
        model = load_method(config["method_settings"][args.method]["type"], results / "models" / f"{args.method}.npz")
        model.set_params(threads=args.threads)
        fits, seconds = fit_variant(model, json.loads(variant), sample, rows)
        residual = fits["parameters"] - _parameters(sample, rows["validation"], model)
        residuals.append(residual)
        print(json.dumps({"variant": json.loads(variant), "parameters": list(model.parameter_names_),
                          "scatter": [float(f"{robust_scatter(r):.4g}") for r in residual.T],
                          "median_reduced_chi2": round(float(np.median(fits["reduced_chi2"])), 3),
                          "restarted": round(float(fits["restarted"].mean()), 4),
                          "stars_per_second": round(len(residual) / seconds)}), flush=True)
    usable = np.all([np.all(np.isfinite(r), axis=1) for r in residuals], axis=0)
    for index, residual in enumerate(residuals[1:], start=1):
        rng = np.random.default_rng(0)
        lines = []
        for k in range(residual.shape[1]):
            pair = np.column_stack([residuals[0][usable, k], residual[usable, k]])
            scatter, _ = bootstrap_scatter_bias(pair, RESAMPLES, rng)
            difference = scatter[:, 1] - scatter[:, 0]
            lines.append([float(f"{robust_scatter(pair[:, 1]) - robust_scatter(pair[:, 0]):.4g}"),
                          *(float(f"{q:.4g}") for q in np.percentile(difference, [2.5, 97.5]))])
        print(json.dumps({"variant": json.loads(args.variants[index]), "minus_first": lines}))


if __name__ == "__main__":
    main()
