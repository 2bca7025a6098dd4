"""The Cannon's test step, side by side with the PyPI package ``TheCannon`` (Ho et al. 2017).

Both are trained on the same stars of a prepared sample (flux only, the quadratic
four-label model that TheCannon implements) and label the same validation stars (the test
split is scored only by the workflow); the script prints stars per second of each, best of
``--repeat`` runs, the ratio, and the robust scatter of every label for both, so that the
speed is compared at comparable accuracy. With ``--model`` it also times a trained model of
the workflow (for example the default ``cannon``) on those stars.

Run after the workflow's prepare step::

    pip install -e ".[bench]"
    python bench/cannon_test_step.py results/xp_from_apogee/data/sample.npz \\
        results/xp_from_apogee/data/split.csv --model results/xp_from_apogee/models/cannon.npz
"""

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.methods import TheCannon  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter  # noqa: E402
from labeltransfer.data.sample import LabelledSample  # noqa: E402
from labeltransfer.data.split import read_split  # noqa: E402


def _best_time(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def _thecannon_run(train, test, label_names):
    """Train TheCannon 0.7.3 and return a function that runs its test step."""
    from TheCannon import dataset, model

    ivar = [np.where(np.isfinite(s.spectra.flux_error), 1 / s.spectra.flux_error ** 2, 0.0) for s in (train, test)]
    with contextlib.redirect_stdout(io.StringIO()):
        data = dataset.Dataset(train.spectra.wavelength, train.apogee_id, train.spectra.flux.astype(float),
                               ivar[0], train.labels, test.apogee_id, test.spectra.flux.astype(float), ivar[1])
        data.set_label_names(list(label_names))
        cannon = model.CannonModel(2, useErrors=False)
        cannon.train(data)

    def infer():
        with contextlib.redirect_stdout(io.StringIO()):
            cannon.infer_labels(data)
        return data.test_label_vals

    return infer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sample", help="results/<task>/data/sample.npz")
    parser.add_argument("split", help="results/<task>/data/split.csv")
    parser.add_argument("--n-test", type=int, default=2000, help="validation stars labelled (default 2000)")
    parser.add_argument("--n-train", type=int, default=10000, help="training stars (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per method; the best is kept")
    parser.add_argument("--model", action="append", default=[], help="a trained Cannon of the workflow to time too")
    args = parser.parse_args()

    sample = LabelledSample.load(args.sample)
    rows = read_split(args.split, sample)
    complete = np.all(np.isfinite(sample.labels), axis=1)
    train = sample.subset(rows["train"][complete[rows["train"]]][: args.n_train])
    test = sample.subset(rows["validation"][: args.n_test])
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}; "
          f"{len(train.apogee_id)} training stars, {len(test.apogee_id)} validation stars, {test.spectra.flux.shape[1]} pixels")

    flux_only = [s.spectra.select_aux([]) for s in (train, test)]
    ours = TheCannon(order=2).fit(flux_only[0], train.labels, train.label_err, sample.label_names)
    theirs = _thecannon_run(train, test, sample.label_names)
    t_ours, (labels_ours, _) = _best_time(lambda: ours.predict(flux_only[1]), args.repeat)
    t_theirs, labels_theirs = _best_time(theirs, args.repeat)
    rate_ours, rate_theirs = len(test.apogee_id) / t_ours, len(test.apogee_id) / t_theirs
    print(f"labeltransfer TheCannon (quadratic, 4 labels, first-guess start): {rate_ours:8.0f} stars/s")
    print(f"TheCannon 0.7.3 (PyPI, curve_fit per star, 1 start):         {rate_theirs:8.0f} stars/s")
    print(f"ratio: {rate_ours / rate_theirs:.1f}x")
    for name, labels in (("labeltransfer", labels_ours), ("TheCannon 0.7.3", labels_theirs)):
        scatter = [robust_scatter(np.asarray(labels)[:, k] - test.labels[:, k]) for k in range(len(sample.label_names))]
        print(f"  {name}: robust scatter " + ", ".join(f"{label} {value:.4g}" for label, value in
                                                     zip(sample.label_names, scatter)))
    for path in args.model:
        model = TheCannon.load(path)
        spectra = test.spectra.select_aux(list(model.aux_names_))
        t_model, _ = _best_time(lambda: model.predict(spectra), args.repeat)
        print(f"{path}: {len(test.apogee_id) / t_model:8.0f} stars/s")


if __name__ == "__main__":
    main()
