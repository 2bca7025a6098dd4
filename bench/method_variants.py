"""Train variants of a method on the frozen split and compare them on the validation split.

Each variant is a JSON object of parameters laid over the method's settings in the config
(``method_settings``); a ``"method"`` key names another method of the config whose settings it is laid
over instead (two methods compared on the same stars), a ``"feature_set"`` key changes the feature set.
Variants are fitted on the training split less a held-out tenth (early stopping and uncertainty
calibration; :mod:`labeltransfer.data.selection`) and scored on the validation split, never on the
test split, which only the workflow scores. For each variant, one line: robust scatter per label
with its 68% bootstrap interval, the robust width of residual / sigma over all validation stars and
in each S/N bin of the config, the percent of stars within 1 and 2 sigma, the epochs run (networks),
the training time, the labelling time of the validation stars and their number per second (one
process, ``--threads``), and the scatter of the stars with and without a parallax apart; then one
line per later variant: its scatter minus the first variant's, per label, with the 95% interval over
the same bootstrap resamples of the stars (an interval that holds zero is a tie); with
``--all-pairs``, also each later variant minus each earlier one but the first (``minus_variant``).
Run after ``prepare_sample`` (or the whole workflow)::

    python bench/method_variants.py mlp '{"n_members": 1, "ema_decay": 0}' \\
        '{"n_members": 1}' '{"n_members": 1, "random_state": 1}'
    python bench/method_variants.py xgboost '{"feature_set": "flux_colours"}' '{}'
    python bench/method_variants.py cannon '{"flux_transform": "log"}' '{}'
    python bench/method_variants.py mlp_no_parallax '{"n_members": 1}' --config config/config.yaml \\
        config/parallax_study.yaml
    python bench/method_variants.py cannon '{}' '{"method": "payne"}' \\
        '{"method": "payne", "extra_labels": ["bp_rp", "g_h"], "feature_set": "flux_colours"}' --all-pairs

Single networks (``n_members: 1``) train in one to three minutes each on 2 cores; seeds scatter,
so compare variants over more than one ``random_state``. Any method of the config can be
compared this way (``cannon``, ``xgboost``, ``knn`` too).
"""

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.evaluation.summary import bootstrap_scatter_bias  # noqa: E402
from labeltransfer.methods import make_method  # noqa: E402
from labeltransfer.methods.device import set_for_job  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter, snr_bin_masks, widths_within  # noqa: E402
from labeltransfer.data.sample import LabelledSample, feature_names  # noqa: E402
from labeltransfer.data.selection import selection_rows  # noqa: E402
from labeltransfer.pipeline.jobs import fit_model  # noqa: E402


def _widths(z, snr, snr_bins):
    """Robust width of each label's residual / sigma over all stars, then per S/N bin."""
    masks = {"all": np.ones(len(snr), bool), **snr_bin_masks(snr, snr_bins)}
    return np.round(list(widths_within(z, masks).values()), 2).tolist()


def _coverage(z):
    """Percent of the stars within 1 and 2 sigma, per label (``[[1 sigma, 2 sigma], ...]``)."""
    return [[round(100 * float(np.mean(np.abs(c[np.isfinite(c)]) < k)), 1) for k in (1, 2)] for c in z.T]


def _scatter(residual):
    """Robust scatter of each label and its 68% bootstrap interval over the scored stars."""
    result = []
    for column in residual.T:
        column = column[np.isfinite(column)]
        resampled, _ = bootstrap_scatter_bias(column[:, None], 1000, np.random.default_rng(0))
        lo, hi = np.percentile(resampled[:, 0], [15.865, 84.135])
        result.append([float(f"{robust_scatter(column):.4g}"), float(f"{lo:.4g}"), float(f"{hi:.4g}")])
    return result


def _config(paths):
    """The configs merged in order, as Snakemake merges --configfile: mappings extended, the rest replaced."""
    def merge(base, extra):
        for key, value in extra.items():
            base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) and isinstance(
                base.get(key), dict) else value
        return base
    config = {}
    for path in paths:
        merge(config, yaml.safe_load(Path(path).read_text()))
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method", help="a method of the config's method_settings (mlp, cnn, cannon, ...)")
    parser.add_argument("variants", nargs="+", help="JSON objects of parameters overriding the method's; a "
                                                    '"feature_set" key changes its feature set, a "method" key '
                                                    "names another method of the config to override")
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"],
                        help="config files, merged in order (a study's after config/config.yaml)")
    parser.add_argument("--task", default="xp_from_apogee")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--all-pairs", action="store_true",
                        help="also compare each later variant with each earlier one, not only with the first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = _config(args.config)
    seed = config.get("task_settings", {}).get(args.task, {}).get("seed", config["seed"])  # as the workflow's
    data = Path("results") / args.task / "data"
    sample = LabelledSample.load(data / "sample.npz")
    fit, stop, scored = (sample.subset(rows) for rows in selection_rows(data / "split.csv", sample, seed).values())
    snr_bins = [float(edge) for edge in config["snr_bins"]]
    has_parallax = np.isfinite(scored.spectra.select_aux(["parallax"]).aux[:, 0])
    print(f"{args.method} fitted on {len(fit.apogee_id)} training stars ({len(stop.apogee_id)} held out to stop and "
          f"calibrate), scored on {len(scored.apogee_id)} validation stars; scatter [68% interval]; widths: all stars, "
          f"then S/N bins {snr_bins}")
    residuals = []
    for variant in args.variants:
        overrides = json.loads(variant)
        method = config["method_settings"][overrides.pop("method", args.method)]
        features = feature_names(overrides.pop("feature_set", method.get("feature_set", "flux_colours")),
                                 config["colours"])
        train, held, test = (s.spectra.select_aux(features) for s in (fit, stop, scored))
        model = make_method(method["type"], {**method.get("params", {}), **overrides}, seed=seed)
        set_for_job(model, args.threads, 0)
        start = time.perf_counter()
        fit_model(model, replace(fit, spectra=train), replace(stop, spectra=held))
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        predicted, sigma = model.predict(test)
        label_seconds = time.perf_counter() - start
        residual = predicted - scored.labels
        residuals.append(residual)
        line = {"variant": json.loads(variant), "scatter": _scatter(residual),
                "width": _widths(residual / sigma, scored.snr, snr_bins), "coverage": _coverage(residual / sigma),
                "seconds": round(seconds), "label_seconds": round(label_seconds, 1),
                "stars_per_second": round(len(scored.apogee_id) / label_seconds),
                **{f"scatter_{name}": [float(f"{robust_scatter(r):.4g}") for r in residual[rows].T]
                   for name, rows in (("with_parallax", has_parallax), ("without_parallax", ~has_parallax))}}
        if hasattr(model, "history_"):  # the networks' members, or the Payne's emulator
            histories = model.history_ if isinstance(model.history_, list) else [model.history_]
            line["epochs"] = [len(next(iter(h.values()))) for h in histories]
        print(json.dumps(line), flush=True)
    for index, line in enumerate(_paired(residuals)[1:], start=1):
        print(json.dumps({"variant": json.loads(args.variants[index]), "minus_first": line}))
    for reference in range(1, len(residuals)) if args.all_pairs else ():
        for index, line in enumerate(_paired(residuals, reference)[reference + 1:], start=reference + 1):
            print(json.dumps({"variant": json.loads(args.variants[index]),
                              "minus_variant": json.loads(args.variants[reference]), "difference": line}))


def _paired(residuals, reference=0):
    """Per variant and label: scatter minus variant ``reference``'s, with its 95% interval (same resamples)."""
    by_variant = [[] for _ in residuals]
    for k in range(residuals[0].shape[1]):
        columns = np.column_stack([r[:, k] for r in residuals])
        columns = columns[np.isfinite(columns).all(axis=1)]
        resampled, _ = bootstrap_scatter_bias(columns, 1000, np.random.default_rng(k))
        point = np.array([robust_scatter(c) for c in columns.T])
        for v in range(len(residuals)):
            lo, hi = np.percentile(resampled[:, v] - resampled[:, reference], [2.5, 97.5])
            by_variant[v].append([float(f"{point[v] - point[reference]:.3g}"), float(f"{lo:.3g}"),
                                  float(f"{hi:.3g}")])
    return by_variant


if __name__ == "__main__":
    main()
