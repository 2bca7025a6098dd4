"""Retrain methods on wavelength bands with all training stars, scored on the validation split.

The workflow's ``wavelength_subsets`` retrains on ``train_size`` stars (1,000 by default, to keep
the run short), too few for the networks. This bench retrains each given method on each band of
the config with the whole training split (on a GPU where there is one, the device chosen as the
workflow does) and compares it, on the validation split, with a model of the same method on
all pixels (``--all-pixel-models``; trained on the same sample): robust scatter per label and the
difference with its paired 95% bootstrap interval (1,000 resamples). Both early-stop on the
validation split, so both scores are equally optimistic; the test split is scored only by the
workflow::

    python bench/band_retraining.py results/xp_from_apogee/data/sample.npz \\
        results/xp_from_apogee/data/split.csv --methods mlp cnn \\
        --all-pixel-models mlp=results/xp_from_apogee/models/mlp.npz cnn=results/xp_from_apogee/models/cnn.npz
"""

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.evaluation.summary import bootstrap_scatter_bias  # noqa: E402
from labeltransfer.methods import load_method  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter  # noqa: E402
from labeltransfer.methods.device import set_for_job  # noqa: E402
from labeltransfer.pipeline.jobs import fit_fresh, load_features  # noqa: E402
from labeltransfer.pipeline.wavelength_subsets import within_span  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sample")
    parser.add_argument("split")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--methods", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--all-pixel-models", nargs="+", required=True, help="name=path of each method's all-pixel model")
    parser.add_argument("--out", default="band_retraining.json")
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    all_pixel = dict(entry.split("=", 1) for entry in args.all_pixel_models)
    report, rng = {}, np.random.default_rng(0)
    for name in args.methods:
        method = config["method_settings"][name]
        sample, rows, _ = load_features(args.sample, args.split, method, config["colours"])
        train, val = sample.subset(rows["train"]), sample.subset(rows["validation"])
        all_pixel_model = load_method(method["type"], all_pixel[name])
        set_for_job(all_pixel_model, os.cpu_count(), 1)  # the GPU where torch has one
        residuals = {"all": all_pixel_model.predict(val.spectra)[0] - val.labels}
        for band, (lo, hi) in config["wavelength_subsets"]["bands"].items():
            keep = (sample.spectra.wavelength >= lo) & (sample.spectra.wavelength <= hi)
            on_band = replace(train, spectra=train.spectra.pixels(keep))
            start = time.perf_counter()
            model = fit_fresh(within_span(method, on_band.spectra, band), config["seed"], os.cpu_count(), 1,
                              on_band, replace(val, spectra=val.spectra.pixels(keep)), f"{name} {band}")
            print(f"{name} {band}: trained in {time.perf_counter() - start:.0f} s", flush=True)
            residuals[band] = model.predict(val.spectra.pixels(keep))[0] - val.labels
        report[name] = {}
        for band, residual in residuals.items():
            report[name][band] = {}
            for k, label in enumerate(sample.label_names):
                both = np.column_stack([residual[:, k], residuals["all"][:, k]])
                both = both[np.all(np.isfinite(both), axis=1)]
                scatter, _ = bootstrap_scatter_bias(both, 1000, rng)
                lo95, hi95 = np.percentile(scatter[:, 0] - scatter[:, 1], [2.5, 97.5])
                entry = {"scatter": robust_scatter(both[:, 0]),
                         "minus_all": robust_scatter(both[:, 0]) - robust_scatter(both[:, 1]),
                         "lo95": lo95, "hi95": hi95}
                report[name][band][label] = entry
                print(f"  {name} {band} {label}: {entry['scatter']:.4g} (minus all {entry['minus_all']:+.3g} "
                      f"[{lo95:+.3g}, {hi95:+.3g}])", flush=True)
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
