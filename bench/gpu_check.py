"""The neural methods on a CUDA GPU: the workflow's own training step, speed and answers.

On a machine with a GPU, for the MLP and the CNN of a config:
- trains each with ``labeltransfer.pipeline.training.train_method`` as the train rule does,
  given ``gpus=1`` (so the device is chosen by asking torch), and times it;
- scores the GPU-trained model and the CPU-trained model of the default run on the validation
  split (robust scatter per label with a bootstrap 68% interval of the difference: the test
  split is scored only by the workflow);
- checks that the GPU-trained model, saved and loaded into a job without a GPU, predicts the
  same labels on the CPU;
- times batch prediction of ``--n-stars`` spectra on the GPU and on the CPU with 2 and with all
  cores (for the survey-labelling projections).

Each phase starts only while ``--budget`` seconds have not passed, and prints as it goes::

    python bench/gpu_check.py SAMPLE SPLIT --config config/config.yaml \\
        --cpu-models mlp=results/xp_from_apogee/models/mlp.npz --out gpu_check
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.evaluation.summary import bootstrap_scatter_bias  # noqa: E402
from labeltransfer.methods import load_method  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter  # noqa: E402
from labeltransfer.methods.device import set_for_job  # noqa: E402
from labeltransfer.pipeline.jobs import load_features  # noqa: E402
from labeltransfer.pipeline.training import train_method  # noqa: E402


def _validation_residuals(model, sample, rows):
    """Residuals (prediction - reference labels) of ``model`` on the validation split."""
    val = sample.subset(rows["validation"])
    labels, _ = model.predict(val.spectra)
    return labels - val.labels


def _compare(name, gpu_resid, cpu_resid, label_names, rng):
    """Print the two models' validation scatters and the 68% interval of their difference."""
    rows = {}
    for k, label in enumerate(label_names):
        scatter = bootstrap_scatter_bias(np.column_stack([gpu_resid[:, k], cpu_resid[:, k]]), 1000, rng)[0]
        lo, hi = np.percentile(scatter[:, 0] - scatter[:, 1], [15.865, 84.135])
        rows[label] = {"gpu": robust_scatter(gpu_resid[:, k]), "cpu": robust_scatter(cpu_resid[:, k]),
                       "diff_lo68": lo, "diff_hi68": hi}
        print(f"  {name} {label}: GPU-trained {rows[label]['gpu']:.4g}, CPU-trained {rows[label]['cpu']:.4g}, "
              f"difference 68% [{lo:+.3g}, {hi:+.3g}]", flush=True)
    return rows


def _throughput(model, spectra, n_stars, repeat=3):
    """Best-of-``repeat`` stars per second of ``model.predict`` on ``n_stars`` tiled spectra."""
    reps = int(np.ceil(n_stars / len(spectra.flux)))
    big = spectra.subset(np.tile(np.arange(len(spectra.flux)), reps)[:n_stars])
    model.predict(big.subset(np.arange(min(1000, n_stars))))  # warm-up (CUDA context, kernels)
    best = np.inf
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.predict(big)
        best = min(best, time.perf_counter() - start)
    return n_stars / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sample")
    parser.add_argument("split")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--methods", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--cpu-models", nargs="*", default=[], help="name=path of the CPU-trained model")
    parser.add_argument("--n-stars", type=int, default=500_000)
    parser.add_argument("--budget", type=float, default=420.0, help="seconds after which no phase starts")
    parser.add_argument("--out", default="gpu_check")
    args = parser.parse_args(argv)
    start, out = time.perf_counter(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(Path(args.config).read_text())
    cpu_models = dict(entry.split("=", 1) for entry in args.cpu_models)
    print(f"torch {torch.__version__}, CUDA {torch.cuda.is_available()}"
          + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
          + f", {os.cpu_count()} CPU cores", flush=True)
    report, rng = {}, np.random.default_rng(0)
    for name in args.methods:
        if time.perf_counter() - start > args.budget:
            print(f"{name}: not started, budget of {args.budget:.0f} s spent", flush=True)
            continue
        method = config["method_settings"][name]
        model_path, timing_path = out / f"{name}.npz", out / f"{name}.fit.json"
        train_method(sample_path=args.sample, split_path=args.split, method=method, colours=config["colours"],
                     seed=config["seed"], threads=os.cpu_count(), gpus=1, model_path=model_path,
                     timing_path=timing_path)
        timing = json.loads(timing_path.read_text())
        print(f"{name}: trained on {timing['device']} in {timing['seconds']:.1f} s "
              f"({len(timing.get('history', []))} members)", flush=True)
        sample, rows, _ = load_features(args.sample, args.split, method, config["colours"])
        gpu_model = load_method(method["type"], model_path)
        set_for_job(gpu_model, os.cpu_count(), 1)
        gpu_resid = _validation_residuals(gpu_model, sample, rows)
        on_cpu = load_method(method["type"], model_path)
        set_for_job(on_cpu, os.cpu_count(), 0)
        cpu_run = _validation_residuals(on_cpu, sample, rows)
        entry = {"train_seconds": timing["seconds"], "device": timing["device"],
                 "max_abs_diff_gpu_vs_cpu_predict": np.nanmax(np.abs(gpu_resid - cpu_run), axis=0).tolist()}
        print(f"  the GPU-trained model predicted on the CPU: max |difference| per label "
              f"{entry['max_abs_diff_gpu_vs_cpu_predict']}", flush=True)
        if name in cpu_models:
            cpu_model = load_method(method["type"], cpu_models[name])
            set_for_job(cpu_model, os.cpu_count(), 1)
            entry["validation"] = _compare(name, gpu_resid, _validation_residuals(cpu_model, sample, rows),
                                           sample.label_names, rng)
        val = sample.subset(rows["validation"]).spectra
        rates = {set_for_job(gpu_model, os.cpu_count(), 1): _throughput(gpu_model, val, args.n_stars)}
        for threads in sorted({2, os.cpu_count()}):
            set_for_job(on_cpu, threads, 0)
            torch.set_num_threads(threads)
            rates[f"cpu_{threads}"] = _throughput(on_cpu, val, min(args.n_stars, 100_000), repeat=2)
        entry["stars_per_second"] = rates
        print("  prediction: " + ", ".join(f"{k} {v:,.0f} stars/s" for k, v in rates.items()), flush=True)
        report[name] = entry
        (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    print(f"done in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
