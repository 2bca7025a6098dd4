"""One survey chunk end to end: read the gzipped CSV, convert, label, flag, write; where the time goes.

Builds a chunk in the Gaia DR3 bulk layout (``XpContinuousMeanSpectrum_*.csv.gz``) of ``--sources``
sources made from a finished run's spectra (2,000 drawn, given a real source's coefficient
correlations and noise at their own errors, :mod:`labeltransfer.xp.synthetic`, then repeated with
new source_ids), then
times each stage of the chunk job on it with the run's trained models that read the flux alone
(and, with ``--networks``, flux-only copies of the run's MLP and CNN trained for one epoch here:
their speed does not depend on their training): reading and parsing the text, the conversion to
spectra, each model's labelling, its flags and its catalogue; then the whole chunk job
(``labeltransfer label``) in a fresh process per model, with the model's flags reference saved
once beforehand (as the workflow's ``survey_domain`` rule does), with its wall time and peak
memory (the process's maximum resident set size); one thread, as the workflow's chunk jobs. With
``--parallel 2`` two such jobs run at once (two cores, as two chunk jobs of the workflow), and
the sources/s are those of both together; ``--jobs-only`` leaves out the in-process stage times,
which hold the whole chunk in memory (for chunks of hundreds of thousands of sources)::

    python bench/survey_chunk.py results/xp_from_apogee --sources 20000 --networks --parallel 2
"""

import argparse
import os
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.xp.bulk import read_xp_blocks  # noqa: E402
from labeltransfer.methods import make_method  # noqa: E402
from labeltransfer.pipeline.survey import flagging_models  # noqa: E402
from labeltransfer.data.sample import LabelledSample  # noqa: E402
from labeltransfer.data.split import read_split, split_fingerprint  # noqa: E402
from labeltransfer.xp.library import XP_WAVELENGTH  # noqa: E402
from labeltransfer.survey.labelling import label_file, normalised_spectra  # noqa: E402
from labeltransfer.xp.basis import XPSampler  # noqa: E402
from labeltransfer.xp.synthetic import synthetic_sources, write_bulk_chunk  # noqa: E402

#: What Snakemake sets for a job of one thread: the chunk jobs' BLAS and OpenMP use one core each.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "gaia_xp" / "XP_CONTINUOUS_RAW.csv"


def build_chunk(sample, path, n_sources, seed, n_unique=2000):
    """A bulk-layout chunk of ``n_sources`` sources: ``n_unique`` made from spectra drawn from the sample,
    repeated with new source_ids (the cost of every stage does not depend on the values); seconds taken."""
    start = time.perf_counter()
    rows = np.random.default_rng(seed).integers(0, len(sample.apogee_id), min(n_unique, n_sources))
    part = sample.spectra.subset(rows)
    unique = path.with_name("unique.csv.gz")
    made = synthetic_sources(part.flux, part.flux_error, part.wavelength, next(read_xp_blocks(REAL)),
                             np.random.default_rng(seed))
    write_bulk_chunk(unique, np.arange(len(rows)), *made)
    lines = igzip.open(unique, "rt").read().splitlines()
    header = [line for line in lines if line.startswith("#")] + [lines[sum(1 for x in lines if x.startswith("#"))]]
    body = [line.split(",", 1)[1] for line in lines[len(header):]]
    with igzip.open(path, "wt", compresslevel=1) as handle:  # ISA-L: several times faster to write
        handle.write("\n".join(header) + "\n")
        for i in range(n_sources):
            handle.write(f"{i * 2 ** 35 + 1},{body[i % len(body)]}\n")
    unique.unlink()
    return time.perf_counter() - start


def network_copies(results, config, sample, rows, seed):
    """Flux-only copies of the run's MLP and CNN settings trained for one epoch, saved beside the run's models."""
    paths = []
    provenance = {"sample": sample.fingerprint(), "split": split_fingerprint(sample.apogee_id, rows), "seed": seed}
    train, val = sample.subset(rows["train"]), sample.subset(rows["validation"])
    for name in ("mlp", "cnn"):
        params = {**config["method_settings"][name]["params"], "epochs": 1, "n_members": 1, "snr_input": False,
                  "random_state": seed, "threads": 1}
        model = make_method(config["method_settings"][name]["type"], params).fit(
            train.spectra.select_aux([]), train.labels, train.label_err, train.label_names,
            validation=(val.spectra.select_aux([]), val.labels, val.label_err))
        model.provenance_ = provenance
        path = Path(results) / "models" / f"bench_{name}_flux.npz"
        model.save(path)
        paths.append(path)
    return paths


def count_rows(chunk):
    """The rows (sources) of a gzipped bulk chunk: its lines but the ``#`` header and the column names."""
    with igzip.open(chunk, "rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
        handle.seek(0)
        header = 1  # the column names
        while handle.readline().startswith(b"#"):
            header += 1
    return lines - header


def stage_times(chunk, models, block_rows):
    """Seconds of each stage over the chunk: the decompression alone (a floor under reading), read and
    parse, convert, and per model labels, flags, write."""
    start = time.perf_counter()
    with igzip.open(chunk, "rb") as handle:
        while handle.read(1 << 24):
            pass
    times = {"decompress only (ISA-L)": time.perf_counter() - start}
    start = time.perf_counter()
    read = list(read_xp_blocks(chunk, block_rows))
    times["read and parse"] = time.perf_counter() - start
    sampler = XPSampler(XP_WAVELENGTH)
    start = time.perf_counter()
    blocks = []
    for block in read:
        flux, error = sampler.sample(block.coefficients, block.errors, block.correlations)
        blocks.append((block.source_id, normalised_spectra(flux, error, XP_WAVELENGTH), None))
    times["convert"] = time.perf_counter() - start
    for survey_model in models:
        labelled = flagged = 0.0
        for _, spectra, _ in blocks:
            start = time.perf_counter()
            survey_model.model.predict(spectra)
            labelled += time.perf_counter() - start
            start = time.perf_counter()  # as the chunk job: labels and the model's flags at once, then the rest
            labels, _, misfit = survey_model.model.predict_and_flag(spectra, survey_model.misfit_baseline)
            survey_model.domain.flags(spectra, labels, misfit, workers=1)
            flagged += time.perf_counter() - start
        times[f"{survey_model.name}: labels"] = labelled
        times[f"{survey_model.name}: labels and flags"] = flagged
    return times


def chunk_jobs(model_path, domain_path, chunk, block_rows, out, parallel=1):
    """Wall time of ``parallel`` runs at once of ``labeltransfer label`` on the chunk, each in a fresh
    process with the model's saved flags reference (as the workflow's chunk jobs), and the largest
    peak memory (MB) of one."""
    # VmHWM, the high-water mark of the job's own memory (ru_maxrss would count this process's,
    # inherited through fork and exec; Linux)
    code = ("import re, sys; from labeltransfer.cli import main; main(sys.argv[1:]); "
            "print('PEAK_MB', int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) / 1024)")
    start = time.perf_counter()
    jobs = [subprocess.Popen([sys.executable, "-c", code, "label", "--model", str(model_path), "--spectra", str(chunk),
                              "--out", str(out.with_name(f"{out.stem}_{k}.parquet")), "--domain", str(domain_path),
                              "--block-rows", str(block_rows),
                              "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **ONE_THREAD})
            for k in range(parallel)]
    peaks = []
    for job in jobs:
        stdout, stderr = job.communicate()
        if job.returncode:
            raise RuntimeError(f"labeltransfer label failed:\n{stderr}")
        peaks += [float(line.split()[1]) for line in stdout.splitlines() if line.startswith("PEAK_MB")]
    return time.perf_counter() - start, max(peaks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a finished run's task folder, e.g. results/xp_from_apogee")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--sources", type=int, default=20_000, help="sources in the chunk")
    parser.add_argument("--block-rows", type=int, default=2_000)
    parser.add_argument("--methods", nargs="*", default=["knn", "cannon_quadratic"],
                        help="the run's methods that read the flux alone")
    parser.add_argument("--networks", action="store_true", help="also flux-only MLP and CNN (one epoch)")
    parser.add_argument("--chunk", type=Path, help="an existing chunk to reuse instead of building one")
    parser.add_argument("--parallel", type=int, default=1, help="chunk jobs run at once (one thread each)")
    parser.add_argument("--jobs-only", action="store_true", help="only the chunk jobs, not the stage times")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    results = Path(args.results)
    sample_path, split_path = results / "data" / "sample.npz", results / "data" / "split.csv"
    sample = LabelledSample.load(sample_path)
    rows = read_split(split_path, sample)
    folder = Path(tempfile.mkdtemp(prefix="survey_chunk_"))
    chunk = args.chunk or folder / "XpContinuousMeanSpectrum_bench.csv.gz"
    if args.chunk is None:
        print(f"built a chunk of {args.sources:,} sources in {build_chunk(sample, chunk, args.sources, 0):.0f} s "
              f"({chunk.stat().st_size / 1e6:,.0f} MB)")
    n_sources = count_rows(chunk)
    model_paths = [results / "models" / f"{name}.npz" for name in args.methods]
    if args.networks:
        model_paths += network_copies(results, config, sample, rows, config["seed"])
    models = flagging_models([path.stem for path in model_paths], model_paths, 1, sample_path, split_path,
                             config["seed"])
    for survey_model in models:  # as the workflow's survey_domain rule: once, for every chunk job
        survey_model.write_domain(folder / "references" / f"{survey_model.name}.npz")
    print(f"{n_sources:,} sources, blocks of {args.block_rows:,}, 1 thread (as the chunk jobs); stage: seconds, sources/s")
    times = {}
    if not args.jobs_only:
        times = stage_times(chunk, models, args.block_rows)
        start = time.perf_counter()
        label_file(chunk, models, [folder / f"{m.name}.parquet" for m in models], block_rows=args.block_rows,
                   threads=1, progress=False)
        times["all models, one job (read once)"] = time.perf_counter() - start
    for stage, seconds in times.items():
        print(f"  {stage}: {seconds:.1f} s, {n_sources / seconds:,.0f} sources/s")
    jobs = {}
    for survey_model in models:
        wall, peak = chunk_jobs(survey_model.path, folder / "references" / f"{survey_model.name}.npz", chunk,
                                args.block_rows, folder / f"{survey_model.name}_job.parquet", args.parallel)
        rate = args.parallel * n_sources / wall
        jobs[survey_model.name] = {"seconds": wall, "parallel": args.parallel, "sources_per_second": rate,
                                   "peak_mb": peak}
        print(f"  {args.parallel} chunk job(s) at once with {survey_model.name} alone: {wall:.1f} s, "
              f"{rate:,.0f} sources/s together, peak memory {peak:,.0f} MB a job")
    if args.json:
        args.json.write_text(json.dumps({"n_sources": n_sources, "block_rows": args.block_rows, "stages": times,
                                         "jobs": jobs, "bench_peak_mb": resource.getrusage(
                                             resource.RUSAGE_SELF).ru_maxrss / 1024}, indent=1))


if __name__ == "__main__":
    main()
