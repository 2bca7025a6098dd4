"""Gaia XP coefficients to the library's 343-pixel grid: the survey stage's conversion against gaiaxpy.

Times, on the same rows, ``gaiaxpy.calibrate`` (``--calibrate-rows`` of them) and
:class:`labeltransfer.xp_basis.XPSampler` (``--rows``, in blocks of ``--chunk``), which gives the
flux (one matrix product) and the flux errors from each source's full coefficient covariance (one
more matrix product per band: the covariance's entries against the products of the basis functions),
then divides both by the median flux as the survey stage does; best of ``--repeat``. The rows are the
real GaiaXPy rows of ``../shared/fixtures/real/gaia_xp`` repeated (the arithmetic does not depend on
the values); the two answers, flux and flux error, are compared on them first::

    python bench/xp_conversion.py --rows 200000
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.io.gaia_xp_bulk import read_xp_blocks  # noqa: E402
from labeltransfer.io.xp_library import XP_WAVELENGTH  # noqa: E402
from labeltransfer.xp_basis import XPSampler  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "gaia_xp" / "XP_CONTINUOUS_RAW.csv"


def _best(function, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--calibrate-rows", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from gaiaxpy import calibrate

    table = pd.read_csv(REAL).drop_duplicates("source_id")
    block = next(read_xp_blocks(REAL))
    sampler = XPSampler(XP_WAVELENGTH)
    flux, error = sampler.sample(block.coefficients, block.errors, block.correlations)
    sampled, _ = calibrate(table.copy(), sampling=XP_WAVELENGTH, save_file=False)
    sampled = sampled.set_index("source_id").loc[block.source_id]
    reference, reference_error = (np.vstack(sampled[c].to_numpy()) for c in ("flux", "flux_error"))
    print(f"{len(table)} real sources: max |flux - gaiaxpy| / max flux = "
          f"{np.max(np.abs(flux - reference)) / np.max(np.abs(reference)):.1e}; "
          f"max |flux error / gaiaxpy - 1| = {np.max(np.abs(error / reference_error - 1)):.1e}")

    rows = np.resize(np.arange(len(block)), args.rows)
    big = table.iloc[rows[: args.calibrate_rows]].reset_index(drop=True).assign(
        source_id=np.arange(args.calibrate_rows))
    seconds = _best(lambda: calibrate(big.copy(), sampling=XP_WAVELENGTH, save_file=False), 1)
    calibrate_rate = args.calibrate_rows / seconds
    print(f"gaiaxpy.calibrate: {calibrate_rate:,.0f} sources/s ({args.calibrate_rows:,} rows)")
    arrays = [a[rows[: args.chunk]] for a in (block.coefficients, block.errors, block.correlations)]

    def convert():
        for _ in range(0, args.rows, args.chunk):
            chunk_flux, chunk_error = sampler.sample(*arrays)
            median = np.median(chunk_flux, axis=1, keepdims=True)
            chunk_flux /= median
            chunk_error /= median
    rate = args.rows / _best(convert, args.repeat)
    print(f"XPSampler, flux and flux errors (full covariance), median-normalised: {rate:,.0f} sources/s "
          f"({args.rows:,} rows, blocks of {args.chunk:,}); {rate / calibrate_rate:,.0f} x gaiaxpy.calibrate")


if __name__ == "__main__":
    main()
