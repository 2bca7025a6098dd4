"""Train variants of a neural method on the frozen split and compare them on the test split.

Each variant is a JSON object of parameters laid over the method's settings in the config
(``method_settings``); for each, one line: robust scatter per label on the test split, the
robust width of residual / sigma over all test stars and in each S/N bin of the config, the
epochs run and the training time. Run after ``prepare_sample`` (or the whole workflow)::

    python bench/neural_variants.py mlp '{"n_members": 1, "ema_decay": 0}' \\
        '{"n_members": 1}' '{"n_members": 1, "random_state": 1}'

Single networks (``n_members: 1``) train in one to three minutes each on 2 cores; seeds scatter,
so compare variants over more than one ``random_state``.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.methods import make_method  # noqa: E402
from labeltransfer.metrics import robust_scatter, snr_bin_masks, widths_within  # noqa: E402
from labeltransfer.pipeline.modelling import load_features  # noqa: E402


def _widths(z, snr, snr_bins):
    """Robust width of each label's residual / sigma over all stars, then per S/N bin."""
    masks = {"all": np.ones(len(snr), bool), **snr_bin_masks(snr, snr_bins)}
    return np.round(list(widths_within(z, masks).values()), 2).tolist()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method", help="a method of config/config.yaml's method_settings (mlp, cnn)")
    parser.add_argument("variants", nargs="+", help="JSON objects of parameters overriding the method's")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--task", default="xp_from_apogee")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = yaml.safe_load(Path(args.config).read_text())
    method = config["method_settings"][args.method]
    data = Path("results") / args.task / "data"
    sample, rows = load_features(data / "sample.npz", data / "split.csv", method, config["colours"])
    train, validation, test = (sample.subset(rows[split]) for split in ("train", "validation", "test"))
    snr_bins = [float(edge) for edge in config["snr_bins"]]
    print(f"{args.method} on {len(train.ids)} training, {len(test.ids)} test stars; widths: all stars, then S/N "
          f"bins {snr_bins}")
    for variant in args.variants:
        params = {"random_state": config["seed"], **method["params"], **json.loads(variant)}
        model = make_method(method["type"], params)
        start = time.perf_counter()
        model.fit(train.spectra, train.labels, train.label_err, sample.label_names,
                  validation=(validation.spectra, validation.labels, validation.label_err), threads=args.threads)
        seconds = time.perf_counter() - start
        predicted, sigma = model.predict(test.spectra, threads=args.threads)
        residual = predicted - test.labels
        print(json.dumps({"variant": json.loads(variant),
                          "scatter": [float(f"{robust_scatter(r):.4g}") for r in residual.T],
                          "width": _widths(residual / sigma, test.snr, snr_bins),
                          "epochs": [len(h["validation"]) for h in model.history_], "seconds": round(seconds)}),
              flush=True)


if __name__ == "__main__":
    main()
