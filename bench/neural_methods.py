"""Prediction throughput of trained neural methods, and their ensemble against one member.

For each model given, on a prepared sample:
- stars per second of batch prediction on ``--n-stars`` spectra (the validation split
  repeated), best of ``--repeat`` runs, on the threads torch is given;
- robust scatter, calibration (robust width of residual / sigma, 1 is honest) and the
  fraction of stars beyond 3 sigma of the first ensemble member alone and of the whole
  ensemble, both recalibrated on one half of the validation split and scored on the other
  (the test split is scored only by the workflow).

Run after the workflow::

    python bench/neural_methods.py results/xp_from_apogee/data/sample.npz \\
        results/xp_from_apogee/data/split.csv mlp=results/xp_from_apogee/models/mlp.npz \\
        cnn=results/xp_from_apogee/models/cnn.npz
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.methods import load_method  # noqa: E402
from labeltransfer.evaluation.metrics import fraction_beyond, robust_scatter  # noqa: E402
from labeltransfer.data.sample import LabelledSample  # noqa: E402
from labeltransfer.data.spectra import Spectra  # noqa: E402
from labeltransfer.data.split import read_split  # noqa: E402


def _throughput(model, spectra, n_stars, repeat):
    reps = int(np.ceil(n_stars / len(spectra)))
    big = Spectra(np.tile(spectra.flux, (reps, 1))[:n_stars], np.tile(spectra.flux_error, (reps, 1))[:n_stars],
                  spectra.wavelength, np.tile(spectra.aux, (reps, 1))[:n_stars], spectra.aux_names)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        model.predict(big)
        best = min(best, time.perf_counter() - start)
    return n_stars / best


def _quality(model, spectra, labels):
    predicted, sigma = model.predict(spectra)
    resid = predicted - labels
    z = resid / sigma
    return ([robust_scatter(r) for r in resid.T], [robust_scatter(c) for c in z.T],
            fraction_beyond(z))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sample")
    parser.add_argument("split")
    parser.add_argument("models", nargs="+", help="type=path of a trained mlp or cnn")
    parser.add_argument("--n-stars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sample = LabelledSample.load(args.sample)
    validation = read_split(args.split, sample)["validation"]
    halves = np.random.default_rng(0).permutation(validation)
    calibration, scored = sample.subset(np.sort(halves[::2])), sample.subset(np.sort(halves[1::2]))
    print(f"{len(calibration.apogee_id)} validation stars to calibrate on, {len(scored.apogee_id)} to score; labels "
          f"{', '.join(sample.label_names)}; {args.threads} threads")
    for entry in args.models:
        method_type, path = entry.split("=", 1)
        model = load_method(method_type, path).set_params(threads=args.threads)  # an MLP or a CNN
        spectra = scored.spectra.select_aux(list(model.aux_names_))
        rate = _throughput(model, spectra, args.n_stars, args.repeat)
        print(f"{method_type} ({path}): {rate:,.0f} stars/s on {args.n_stars:,} spectra")
        on = (calibration.spectra.select_aux(list(model.aux_names_)), calibration.labels)
        for n_members in (1, len(model.members_)):
            variant = model.sub_ensemble(n_members, on)
            name = f"{n_members} member" + "s" * (n_members > 1)
            scatter, width, beyond = _quality(variant, spectra, scored.labels)
            print(f"  {name:>10}: scatter " + " / ".join(f"{s:.3g}" for s in scatter)
                  + "; residual/sigma width " + " / ".join(f"{w:.2f}" for w in width)
                  + "; beyond 3 sigma " + " / ".join(f"{100 * b:.2f}%" for b in beyond))


if __name__ == "__main__":
    main()
