"""Can another per-star sigma give The Cannon honest coverage? Candidates scored on validation.

The default Cannon's residuals have heavier tails than any calibration of its own (formal)
sigma covers (docs/validation.md). This bench fits every regime model to each star of a
random subset of the validation split and compares, calibrated on one half of it and scored
on the other (per label, % within 1 / 2 sigma; the windows are 60-76 / 92-98):

- ``formal``: the best in-regime model's formal sigma, calibrated as in the workflow;
- ``per regime``: the same sigma, calibrated separately for the stars of each regime model;
- ``mixture T``: the models as a mixture weighted by ``exp(-(-2 ln L - min) / 2T)`` (the
  likelihoods' differences tempered by ``T``), sigma the mixture's spread about the best
  model's labels (regime ambiguity added to the formal sigma);
- ``spread``: the formal sigma plus the standard deviation of the regime models' labels;
- ``guess``: the formal sigma plus the disagreement with the first guess (``|label - guess|``),
  in quadrature: the workflow's since 2026-11-30 (``guess_disagreement``).

It then prints, per label, how well the formal sigma and the guess's rank the stars' errors
(Spearman's correlation of ``|residual|`` with each, over all the stars).

The test split is not read. Run after the workflow::

    python bench/cannon_uncertainty.py results/xp_from_apogee --stars 3000
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.methods import load_method  # noqa: E402
from labeltransfer.methods.calibration import calibrate_uncertainties, calibrated  # noqa: E402
from labeltransfer.data.sample import LabelledSample, feature_names  # noqa: E402
from labeltransfer.data.split import read_split  # noqa: E402


def regime_fits(model, spectra):
    """Labels, formal sigma and -2 ln L of every regime model for every star, and whether the
    labels fall in the model's own regime (arrays of shape (n_models, n_stars[, n_labels])); and
    the first guess, shape (n_stars, n_labels)."""
    n_labels = len(model.label_names_)
    extra = model._extra(spectra)
    flux, var = model._transformed(spectra)
    guess = model.first_guess(flux, var, extra)
    fits = []
    for r in range(len(model.theta_)):
        x, cov, neg2_log_likelihood, _ = model._infer(r, flux, var, model._start(r, guess, extra), n_labels)
        labels = x[:, :n_labels] * model.scale_[r, :n_labels] + model.offset_[r, :n_labels]
        sigma = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)[:, :n_labels]) * model.scale_[r, :n_labels]
        fits.append((labels, sigma, neg2_log_likelihood, model._in_regime(r, labels)))
    return [np.stack(parts) for parts in zip(*fits)], guess


def coverage(predicted, sigma, reference, halves, names, groups=None):
    """% within 1 / 2 calibrated sigma on the second half, calibrated on the first (per group)."""
    groups = np.zeros(len(predicted), dtype=int) if groups is None else groups
    scaled = np.full_like(sigma, np.nan)
    for group in np.unique(groups):
        fit, score = halves & (groups == group), ~halves & (groups == group)
        scaled[score] = calibrated(sigma[score], calibrate_uncertainties(predicted[fit], sigma[fit], reference[fit],
                                                                         names, "bench"))
    z = np.abs(predicted - reference)[~halves] / scaled[~halves]
    return ", ".join(f"{100 * np.nanmean(z[:, k] < 1):.1f}/{100 * np.nanmean(z[:, k] < 2):.1f}"
                     for k in range(len(names)))


def rank_correlation(residual, sigma, k):
    """Spearman's rank correlation of ``|residual|`` with ``sigma`` in column ``k`` (stars with both)."""
    usable = np.isfinite(residual[:, k]) & np.isfinite(sigma[:, k])
    return spearmanr(np.abs(residual[usable, k]), sigma[usable, k])[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a task's results folder, e.g. results/xp_from_apogee")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--method", default="cannon", help="a Cannon of the config's method_settings")
    parser.add_argument("--stars", type=int, default=3000, help="validation stars (a seeded random subset)")
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    settings = config["method_settings"][args.method]
    results = Path(args.results)
    sample = LabelledSample.load(results / "data" / "sample.npz")
    validation = sample.subset(read_split(results / "data" / "split.csv", sample)["validation"])
    rows = np.random.default_rng(0).permutation(len(validation.apogee_id))[: args.stars]
    validation = validation.subset(rows)
    model = load_method(settings["type"], results / "models" / f"{args.method}.npz")
    spectra = validation.spectra.select_aux(feature_names(settings["feature_set"], config["colours"]))
    (labels, sigma, neg2_log_likelihood, in_regime), guess = regime_fits(model, spectra)
    best = np.argmin(neg2_log_likelihood + 1e12 * ~in_regime, axis=0)
    star = np.arange(len(best))
    predicted, formal = labels[best, star], sigma[best, star]
    reference, names = validation.labels, sample.label_names
    halves = np.arange(len(best)) % 2 == 0
    print(f"{args.method}: {len(best)} validation stars, half calibrate, half scored; % within 1/2 sigma "
          f"({', '.join(names)})")
    print(f"{'formal':>14}: {coverage(predicted, formal, reference, halves, names)}")
    print(f"{'per regime':>14}: {coverage(predicted, formal, reference, halves, names, groups=best)}")
    for temperature in (1, 10, 30):
        weight = np.exp(-(neg2_log_likelihood - neg2_log_likelihood.min(axis=0)) / (2 * temperature))
        weight /= weight.sum(axis=0)
        spread = (weight[..., None] * (sigma ** 2 + (labels - predicted) ** 2)).sum(axis=0)
        print(f"{f'mixture T={temperature}':>14}: {coverage(predicted, np.sqrt(spread), reference, halves, names)}")
    added = np.sqrt(formal ** 2 + labels.std(axis=0) ** 2)
    print(f"{'spread':>14}: {coverage(predicted, added, reference, halves, names)}")
    with_guess = np.sqrt(formal ** 2 + (predicted - guess) ** 2)
    print(f"{'guess':>14}: {coverage(predicted, with_guess, reference, halves, names)}")
    print("Spearman rank correlation of |residual| with the formal sigma / with the guess's: "
          + ", ".join(f"{name} {rank_correlation(predicted - reference, formal, k):.2f} / "
                      f"{rank_correlation(predicted - reference, with_guess, k):.2f}" for k, name in enumerate(names)))


if __name__ == "__main__":
    main()
