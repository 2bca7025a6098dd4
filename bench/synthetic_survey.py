"""A synthetic survey of a million spectra labelled end to end: wall time and peak memory.

Draws ``--sources`` spectra from a finished run's sample (with replacement) and adds noise at their
published flux errors (independent pixels), written as ``--files`` files of sampled spectra
(``.npz``: source_id, flux, flux_error, wavelength), then labels every file with ``labeltransfer
label`` (a trained model, out-of-distribution flags from the run's training set, their reference
saved once beforehand as the workflow's ``survey_domain`` rule does), ``--jobs`` files
at a time as separate processes (one thread each, as the workflow's chunk jobs), and reports the
wall time, the rate and each job's peak memory::

    python bench/synthetic_survey.py results/xp_from_apogee results/xp_from_apogee/models/knn.npz
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.pipeline.survey import flagging_models  # noqa: E402
from labeltransfer.data.sample import LabelledSample  # noqa: E402

#: What Snakemake sets for a job of one thread: the chunk jobs' BLAS and OpenMP use one core each.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

#: A chunk job that prints its peak resident memory: VmHWM, the high-water mark of its own memory
#: (ru_maxrss would count the parent's, inherited through fork and exec; Linux).
_JOB = ("import re, sys; from labeltransfer.cli import main; main(sys.argv[1:]); "
        "print('PEAK_MB', int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) / 1024)")


def write_survey(sample, folder, n_sources, n_files, seed):
    """``n_files`` files of sampled spectra drawn from the sample, with noise at their errors."""
    rng = np.random.default_rng(seed)
    paths = []
    per_file = -(-n_sources // n_files)
    for f in range(n_files):
        n = min(per_file, n_sources - f * per_file)
        rows = rng.integers(0, len(sample.apogee_id), n)
        error = sample.spectra.flux_error[rows]
        noise = np.where(np.isfinite(error), error, 0.0) * rng.standard_normal(error.shape, dtype=np.float32)
        path = folder / f"survey_{f:03d}.npz"
        np.savez(path, source_id=np.arange(f * per_file, f * per_file + n, dtype=np.int64) * 2 ** 35 + 1,
                 flux=sample.spectra.flux[rows] + noise, flux_error=error, wavelength=sample.spectra.wavelength)
        paths.append(path)
    return paths


def label_one(path, model, reference):
    """Seconds and peak memory (MB) of ``labeltransfer label`` on one file."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _JOB, "label", "--model", str(model), "--spectra", str(path),
                             "--out", str(path.with_suffix(".parquet")), "--domain", str(reference),
                             "--threads", "1"],
                            capture_output=True, text=True, check=True, env={**os.environ, **ONE_THREAD})
    peak = float(next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("PEAK_MB")))
    return time.perf_counter() - start, peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a finished run's task folder, e.g. results/xp_from_apogee")
    parser.add_argument("model", type=Path, help="a trained model of that run that reads the flux alone")
    parser.add_argument("--sources", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2, help="files labelled at once (processes)")
    parser.add_argument("--seed", type=int, default=42, help="the run's seed")
    args = parser.parse_args(argv)
    sample = LabelledSample.load(args.results / "data" / "sample.npz")
    folder = Path(tempfile.mkdtemp(prefix="synthetic_survey_"))
    start = time.perf_counter()
    paths = write_survey(sample, folder, args.sources, args.files, args.seed)
    print(f"{args.sources:,} spectra in {len(paths)} files written in {time.perf_counter() - start:.0f} s ({folder})")
    reference = folder / f"{args.model.stem}_reference.npz"
    survey_model, = flagging_models([args.model.stem], [args.model], 1, args.results / "data" / "sample.npz",
                                    args.results / "data" / "split.csv", args.seed)
    survey_model.write_domain(reference)
    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        jobs = list(pool.map(lambda path: label_one(path, args.model, reference), paths))
    wall = time.perf_counter() - start
    print(f"labelled by {args.model.name}, {args.jobs} jobs at a time: {wall:.0f} s wall, "
          f"{args.sources / wall:,.0f} spectra/s; per job {min(j[0] for j in jobs):.0f}-{max(j[0] for j in jobs):.0f} s, "
          f"peak memory {max(j[1] for j in jobs):,.0f} MB")


if __name__ == "__main__":
    main()
