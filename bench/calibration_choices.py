"""How four ways of calibrating the uncertainties cover the validation stars, for trained models.

For each model of a finished run, the validation split is halved (seeded); the calibration of
each label's sigma is set on one half and the other half's fractions within 1, 2 and 3 sigma
are printed, over all its stars and (within 1 sigma) in each S/N bin of
``CALIBRATION_SNR_EDGES``, for four rules:

- ``core``: one scale, making the robust width of residual / sigma one (68% within 1 sigma for
  a Gaussian);
- ``scale``: the workflow's rule with one power (1: the method's own sigma, scaled);
- ``power``: the workflow's rule (:func:`labeltransfer.methods.calibration.calibrate_uncertainties`),
  without its S/N term: a scale and a power of the method's sigma, those whose fractions within 1
  and 2 sigma lie farthest inside the windows (60-76% and 92-98%), counted in binomial standard
  errors;
- ``snr``: the workflow's rule, a power of the star's S/N as well, chosen so that the fractions of
  every S/N bin lie inside the windows too.

The test split is not read. Run after the workflow::

    python bench/calibration_choices.py results/xp_from_apogee
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.methods.calibration import CALIBRATION_SNR_EDGES, calibrate_uncertainties, calibrated  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter, snr_bin_masks  # noqa: E402
from labeltransfer.pipeline.training import trained_models  # noqa: E402
from labeltransfer.data.sample import LabelledSample  # noqa: E402
from labeltransfer.data.split import read_split  # noqa: E402


def _within(z):
    """Fractions of |z| below 1, 2, 3 per column, in percent."""
    return [[round(100 * float(np.mean(np.abs(c[np.isfinite(c)]) < k)), 1) for k in (1, 2, 3)] for c in z.T]


def _within_1_per_bin(z, snr):
    """Fractions of |z| below 1 per column in each S/N bin of ``CALIBRATION_SNR_EDGES``, in percent,
    as ``{"<lo>-<hi>": [...]}``."""
    masks = snr_bin_masks(snr, (0.0, *CALIBRATION_SNR_EDGES, np.inf))
    return {name.removeprefix("snr_"): [round(100 * float(np.mean(np.abs(c[np.isfinite(c)]) < 1)), 1)
                                        for c in z[mask].T]
            for name, mask in masks.items() if mask.any()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a task's results folder, e.g. results/xp_from_apogee")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    results = Path(args.results)
    sample = LabelledSample.load(results / "data" / "sample.npz")
    validation = sample.subset(read_split(results / "data" / "split.csv", sample)["validation"])
    halves = np.random.default_rng(0).permutation(len(validation.apogee_id)) % 2 == 0
    print(f"{halves.sum()} validation stars set the scale, {(~halves).sum()} are scored; per label, % within "
          f"1 / 2 / 3 sigma ({', '.join(sample.label_names)})")
    for name, model, features in trained_models(results, config, args.threads):
        spectra = validation.spectra.select_aux(features)
        predicted, formal = model.predict(spectra, calibrate=False)
        residual = predicted - validation.labels
        snr = spectra.snr()
        core = np.ones((3, residual.shape[1]))
        core[0] = [robust_scatter(c) for c in (residual / formal)[halves].T]
        rules = {"core": core, **{rule: calibrate_uncertainties(predicted[halves], formal[halves],
                                                              validation.labels[halves], sample.label_names, name,
                                                              **settings)
                                  for rule, settings in (("scale", {"powers": (1.0,)}), ("power", {}),
                                                         ("snr", {"snr": snr[halves]}))}}
        for rule, calibration in rules.items():
            z = residual[~halves] / calibrated(formal[~halves], calibration, snr[~halves])
            print(f"{name:>16} {rule:>6}: {_within(z)} within 1 sigma per S/N bin {_within_1_per_bin(z, snr[~halves])}"
                  + (f" power {calibration[1].tolist()}" if rule in ("power", "snr") else "")
                  + (f" S/N power {calibration[3].tolist()}" if rule == "snr" else ""), flush=True)


if __name__ == "__main__":
    main()
