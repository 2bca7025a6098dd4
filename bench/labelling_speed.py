"""Labelling speed of a finished run's trained models, side by side, on a quiet or a busy machine.

Each method's model (``results/<task>/models/<method>.npz``) labels the validation split's spectra,
repeated to ``--stars`` stars, with everything ``predict`` does counted (a first guess, restarts,
the calibration), in a fresh process with the job's threads and OpenMP's passive wait (as the
workflow's jobs run); the methods alternate within each repeat, so that they share the machine's
moods; with ``--busy`` another process keeps one core busy throughout. One line per labelling, then
each method's median stars per second; with ``--target N`` the exit status is 1 where the first
method's median falls below ``N`` stars per second. Run after the workflow (its models)::

    python bench/labelling_speed.py payne cannon knn --repeats 3
    python bench/labelling_speed.py payne cannon --repeats 3 --busy --target 1000

The test split is never read.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _busy import timed_child  # noqa: E402


def label_once(method_json, task, colours, n_stars, threads):
    """Load one method's model and label ``n_stars`` validation spectra; return the seconds of ``predict``."""
    sys.path.insert(0, str(ROOT / "src"))
    from labeltransfer.data.sample import LabelledSample, feature_names
    from labeltransfer.data.split import read_split
    from labeltransfer.methods.device import load_for_job

    name, method = json.loads(method_json)
    data = Path("results") / task / "data"
    sample = LabelledSample.load(data / "sample.npz")
    validation = read_split(data / "split.csv", sample)["validation"]
    rows = np.resize(validation, n_stars)
    spectra = sample.subset(rows).spectra.select_aux(feature_names(method["feature_set"], colours))
    model = load_for_job(Path("results") / task / "models" / f"{name}.npz", threads)
    start = time.perf_counter()
    model.predict(spectra)
    return time.perf_counter() - start


def _timed_child(args, name, method, busy):
    """Seconds of one labelling in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OMP_WAIT_POLICY": "PASSIVE"}
    return timed_child([sys.executable, __file__, "--child", json.dumps([name, method]), args.task,
                        json.dumps(args.colours), str(args.stars), str(args.threads)], env, busy)


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--child"]:
        method_json, task, colours, n_stars, threads = sys.argv[2:7]
        print(label_once(method_json, task, json.loads(colours), int(n_stars), int(threads)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("methods", nargs="+", help="methods of the run (their models must exist)")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--task", default="xp_from_apogee")
    parser.add_argument("--stars", type=int, default=10000, help="stars labelled each time (default 10,000)")
    parser.add_argument("--threads", type=int, default=2, help="the job's threads (default 2, the config's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="keep one core busy with another process")
    parser.add_argument("--target", type=float, help="stars per second the first method must reach (median)")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    args.colours = config["colours"]
    print(f"{args.stars} validation spectra of task {args.task}, {args.threads} threads, cpus {os.cpu_count()}, "
          f"{'one core busy' if args.busy else 'no other process started'}, load average {os.getloadavg()[0]:.2f}")
    rates = {name: [] for name in args.methods}
    for repeat in range(args.repeats):
        for name in args.methods:
            seconds = _timed_child(args, name, config["method_settings"][name], args.busy)
            rates[name].append(args.stars / seconds)
            print(f"repeat {repeat}: {name:20s} {seconds:7.2f} s {rates[name][-1]:9.0f} stars/s", flush=True)
    for name, values in rates.items():
        print(f"{name:20s} median {np.median(values):9.0f} stars/s (range {min(values):.0f}-{max(values):.0f})")
    first = np.median(rates[args.methods[0]])
    if args.target is not None and first < args.target:
        print(f"{args.methods[0]}: {first:.0f} stars/s, below the target of {args.target:.0f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
