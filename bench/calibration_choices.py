"""How three ways of calibrating the uncertainties cover the validation stars, for trained models.

For each model of a finished run, the validation split is halved (seeded); the calibration of
each label's sigma is set on one half and the other half's fractions within 1, 2 and 3 sigma
are printed, for three rules:

- ``core``: one scale, making the robust width of residual / sigma one (68% within 1 sigma for
  a Gaussian);
- ``scale``: the workflow's rule with one power (1: the method's own sigma, scaled);
- ``power``: the workflow's rule (:func:`labeltransfer.methods.calibration.calibrate_uncertainties`),
  a scale and a power of the method's sigma, those whose fractions within 1 and 2 sigma lie
  farthest inside the windows (60-76% and 92-98%), counted in binomial standard errors.

The test split is not read. Run after the workflow::

    python bench/calibration_choices.py results/xp_from_apogee
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.methods.calibration import calibrate_uncertainties, calibrated  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter  # noqa: E402
from labeltransfer.pipeline.training import trained_models  # noqa: E402
from labeltransfer.data.sample import LabelledSample  # noqa: E402
from labeltransfer.data.split import read_split  # noqa: E402


def _within(z):
    """Fractions of |z| below 1, 2, 3 per column, in percent."""
    return [[round(100 * float(np.mean(np.abs(c[np.isfinite(c)]) < k)), 1) for k in (1, 2, 3)] for c in z.T]


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
        core = np.ones((3, residual.shape[1]))
        core[0] = [robust_scatter(c) for c in (residual / formal)[halves].T]
        rules = {"core": core, **{rule: calibrate_uncertainties(predicted[halves], formal[halves],
                                                              validation.labels[halves], sample.label_names, name,
                                                              **powers)
                                  for rule, powers in (("scale", {"powers": (1.0,)}), ("power", {}))}}
        for rule, calibration in rules.items():
            print(f"{name:>16} {rule:>6}: {_within(residual[~halves] / calibrated(formal[~halves], calibration))}"
                  + (f" power {calibration[1].tolist()}" if rule == "power" else ""), flush=True)


if __name__ == "__main__":
    main()
