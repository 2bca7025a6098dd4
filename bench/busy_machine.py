"""Train a method on a machine where another process keeps one core busy, with OpenMP's waiting
threads spinning (its default) and sleeping (``OMP_WAIT_POLICY=PASSIVE``, what the workflow's jobs
and ``labeltransfer label`` set), side by side.

Each repeat trains the method once per policy, alternating, each in a fresh process (OpenMP reads
the policy when it loads) with the job's threads (``OMP_NUM_THREADS`` and the method's ``threads``),
while a second process spins on one core; with ``--idle`` a run with no busy process is added, for
reference. One line per training: the policy, whether the machine was busy, the seconds. The
method is trained as the workflow's ``train_method`` does (training split, validation split to
stop), with any parameters laid over its settings in the config. Run after ``prepare_sample``::

    python bench/busy_machine.py xgboost '{"n_estimators": 300, "uncertainty_estimators": 100}' --repeats 2
    python bench/busy_machine.py mlp '{"epochs": 3, "n_members": 1}' --repeats 2 --idle
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _busy import timed_child  # noqa: E402
POLICIES = {"spinning (OpenMP's default)": None, "passive": "PASSIVE"}


def train_once(method_json, sample_path, split_path, colours, seed, threads):
    """Fit one method as ``train_method`` does; return the seconds of the fit."""
    sys.path.insert(0, str(ROOT / "src"))
    from labeltransfer.methods import make_method
    from labeltransfer.methods.device import set_for_job
    from labeltransfer.pipeline.jobs import fit_model, load_features

    method = json.loads(method_json)
    sample, rows, _ = load_features(sample_path, split_path, method, colours)
    model = make_method(method["type"], method["params"], seed=seed)
    set_for_job(model, threads, 0)
    train, val = sample.subset(rows["train"]), sample.subset(rows["validation"])
    start = time.perf_counter()
    fit_model(model, train, val)
    return time.perf_counter() - start


def _timed_child(args, method, policy, busy):
    """Seconds of one training in a fresh process with the given OpenMP wait policy."""
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    env.pop("OMP_WAIT_POLICY", None)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    return timed_child([sys.executable, __file__, "--child", json.dumps(method), str(args.data / "sample.npz"),
                        str(args.data / "split.csv"), json.dumps(args.colours), str(args.seed), str(args.threads)],
                       env, busy)


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--child"]:
        method_json, sample_path, split_path, colours, seed, threads = sys.argv[2:8]
        print(train_once(method_json, sample_path, split_path, json.loads(colours), int(seed), int(threads)))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method", help="a method of the config's method_settings (xgboost, mlp, cnn, ...)")
    parser.add_argument("params", nargs="?", default="{}", help="a JSON object of parameters over the method's")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--task", default="xp_from_apogee")
    parser.add_argument("--threads", type=int, default=2, help="the job's threads (default 2, the config's)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--idle", action="store_true", help="also train with no busy process")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    settings = config["method_settings"][args.method]
    method = {**settings, "params": {**settings.get("params", {}), **json.loads(args.params)}}
    args.data, args.colours, args.seed = Path("results") / args.task / "data", config["colours"], config["seed"]
    print(f"{args.method} {json.loads(args.params)}: {args.threads} threads, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    for repeat in range(args.repeats):
        for busy in (True, False) if args.idle else (True,):
            for name, policy in POLICIES.items():
                seconds = _timed_child(args, method, policy, busy)
                print(f"repeat {repeat}: {name:28s} {'one core busy' if busy else 'idle':14s} {seconds:8.1f} s",
                      flush=True)


if __name__ == "__main__":
    main()
