"""Gaia XP coefficients to the library's 343-pixel grid (the archive tasks' and the survey's one route) against gaiaxpy.

Times, on the same rows, ``gaiaxpy.calibrate`` (``--calibrate-rows`` of them) and
:class:`labeltransfer.xp.basis.XPSampler` (``--rows``, in blocks of ``--chunk`` as the survey
stage reads them), which gives the flux (one matrix product per band) and the flux errors from each
source's full coefficient covariance (one more matrix product per band: the covariance's entries
against the products of the basis functions), what ``gaiaxpy.calibrate`` gives; then the division by
the median flux into the methods' float32 input (:func:`labeltransfer.xp.flux.divided_by_median`),
timed apart: together the one route of every XP source (:func:`labeltransfer.xp.flux.normalised_xp_flux`).
The conversion runs in ``--jobs`` processes at once, one thread each, as the survey's chunk jobs
do (one per core), each on its share of the rows; the rates are those of all of them together, the
best of ``--repeat`` rounds. The rows are the real GaiaXPy rows of ``../shared/fixtures/real/gaia_xp``
repeated (the arithmetic does not depend on the values); the two answers, flux and flux error, are
compared on them first::

    python bench/xp_conversion.py --rows 400000
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.xp.bulk import read_xp_blocks  # noqa: E402
from labeltransfer.xp.library import XP_WAVELENGTH  # noqa: E402
from labeltransfer.xp.basis import XPSampler  # noqa: E402
from labeltransfer.xp.flux import divided_by_median  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "gaia_xp" / "XP_CONTINUOUS_RAW.csv"
#: What Snakemake sets for a job of one thread.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def compare_with_gaiaxpy(calibrate_rows):
    """Print the largest differences from ``gaiaxpy.calibrate`` on the real rows, and its rate on
    ``calibrate_rows`` of them (sources/s)."""
    from gaiaxpy import calibrate

    table = pd.read_csv(REAL).drop_duplicates("source_id")
    block = next(read_xp_blocks(REAL))
    flux, error = XPSampler(XP_WAVELENGTH).sample(block.coefficients, block.errors, block.correlations)
    sampled, _ = calibrate(table.copy(), sampling=XP_WAVELENGTH, save_file=False)
    sampled = sampled.set_index("source_id").loc[block.source_id]
    reference, reference_error = (np.vstack(sampled[c].to_numpy()) for c in ("flux", "flux_error"))
    print(f"{len(table)} real sources: max |flux - gaiaxpy| / max flux = "
          f"{np.max(np.abs(flux - reference)) / np.max(np.abs(reference)):.1e}; "
          f"max |flux error / gaiaxpy - 1| = {np.max(np.abs(error / reference_error - 1)):.1e}")
    rows = np.resize(np.arange(len(table)), calibrate_rows)
    big = table.iloc[rows].reset_index(drop=True).assign(source_id=np.arange(calibrate_rows))
    start = time.perf_counter()
    calibrate(big, sampling=XP_WAVELENGTH, save_file=False)
    rate = calibrate_rows / (time.perf_counter() - start)
    print(f"gaiaxpy.calibrate: {rate:,.0f} sources/s ({calibrate_rows:,} rows)")
    return rate


def worker(rows, chunk):
    """Convert ``rows`` sources in blocks of ``chunk`` each time a line arrives on stdin; print the seconds
    spent converting and normalising."""
    block = next(read_xp_blocks(REAL))
    picked = np.resize(np.arange(len(block)), chunk)
    arrays = [a[picked] for a in (block.coefficients, block.errors, block.correlations)]
    sampler = XPSampler(XP_WAVELENGTH)
    print("ready", flush=True)
    for _ in sys.stdin:
        seconds = np.zeros(2)
        for _ in range(0, rows, chunk):
            start = time.perf_counter()
            flux, error = sampler.sample(*arrays)
            converted = time.perf_counter()
            divided_by_median(flux, error)
            seconds += converted - start, time.perf_counter() - converted
        print(*seconds, flush=True)


def concurrent_rates(rows, chunk, jobs, repeat):
    """Sources/s of ``jobs`` one-thread processes converting ``rows`` sources between them, best of
    ``repeat`` rounds: the conversion alone (the slowest process's time converting) and with the
    normalisation (the round's wall time)."""
    share = -(-rows // jobs // chunk) * chunk
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--rows", str(share), "--chunk", str(chunk)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **ONE_THREAD})
             for _ in range(jobs)]
    try:
        for proc in procs:  # anything a worker prints before it is ready is passed over
            if not any(line.strip() == "ready" for line in iter(proc.stdout.readline, "")):
                raise RuntimeError("a conversion worker failed to start (see its error above)")
        best = np.full(2, np.inf)
        for _ in range(repeat):
            start = time.perf_counter()
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            converting = max(float(proc.stdout.readline().split()[0]) for proc in procs)
            best = np.minimum(best, [converting, time.perf_counter() - start])
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait()
    return jobs * share / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--chunk", type=int, default=2_000, help="sources converted at a time (the survey's block)")
    parser.add_argument("--jobs", type=int, default=2, help="processes at once, one thread each")
    parser.add_argument("--calibrate-rows", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.rows, args.chunk)
        return
    calibrate_rate = compare_with_gaiaxpy(args.calibrate_rows)
    converted, normalised = concurrent_rates(args.rows, args.chunk, args.jobs, args.repeat)
    print(f"XPSampler, flux and flux errors (full covariance): {converted:,.0f} sources/s ({args.rows:,} rows, "
          f"blocks of {args.chunk:,}, {args.jobs} one-thread processes at once); "
          f"{converted / calibrate_rate:,.0f} x gaiaxpy.calibrate")
    print(f"  and divided by the median flux into the methods' input: {normalised:,.0f} sources/s")


if __name__ == "__main__":
    main()
