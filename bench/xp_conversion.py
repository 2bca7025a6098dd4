"""Gaia XP coefficients to the library's 343-pixel grid: the design-matrix product against gaiaxpy.

Times, on the same rows, ``gaiaxpy.calibrate`` (``--calibrate-rows`` of them) and the conversion
by the design matrix of :mod:`labeltransfer.xp_basis` (``--rows``, in chunks of ``--chunk``): the
flux alone (one matrix product per chunk) and the flux errors from each source's coefficient
covariance (a quadratic form per source), best of ``--repeat``. The rows are the real GaiaXPy
rows of ``../shared/fixtures/real/gaia_xp`` repeated (the arithmetic does not depend on the
values); the two answers are compared on them first::

    python bench/xp_conversion.py --rows 500000
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.io.xp_library import XP_WAVELENGTH  # noqa: E402
from labeltransfer.io.gaia_xp import array_cell, read_xp_covariances  # noqa: E402
from labeltransfer.xp_basis import design_matrix  # noqa: E402

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
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--calibrate-rows", type=int, default=2_000)
    parser.add_argument("--error-rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from gaiaxpy import calibrate

    table = pd.read_csv(REAL).drop_duplicates("source_id")
    table = table[table["bp_coefficients"].notna() & table["rp_coefficients"].notna()]
    design = design_matrix(XP_WAVELENGTH)
    coefficients = np.array([np.concatenate([array_cell(r.bp_coefficients), array_cell(r.rp_coefficients)])
                             for r in table.itertuples()])
    covariance = read_xp_covariances([REAL], table["source_id"])
    sampled, _ = calibrate(table.copy(), sampling=XP_WAVELENGTH, save_file=False)
    reference = np.vstack(sampled.set_index("source_id").loc[table["source_id"], "flux"].to_numpy())
    print(f"{len(table)} real sources: max |design-matrix flux - gaiaxpy| / max flux = "
          f"{np.max(np.abs(coefficients @ design.T - reference)) / np.max(np.abs(reference)):.1e}")

    rows = np.resize(np.arange(len(table)), args.rows)
    all_coefficients = coefficients[rows].astype(np.float32)
    covariances = covariance[rows[: args.error_rows]]
    big = table.iloc[rows[: args.calibrate_rows]].reset_index(drop=True).assign(
        source_id=np.arange(args.calibrate_rows))
    seconds = _best(lambda: calibrate(big.copy(), sampling=XP_WAVELENGTH, save_file=False), 1)
    print(f"gaiaxpy.calibrate: {args.calibrate_rows / seconds:,.0f} sources/s ({args.calibrate_rows:,} rows)")
    design32 = design.astype(np.float32)

    def flux():
        for lo in range(0, args.rows, args.chunk):
            chunk = all_coefficients[lo:lo + args.chunk] @ design32.T
            chunk /= np.median(chunk, axis=1, keepdims=True)
    rate = args.rows / _best(flux, args.repeat)
    print(f"design matrix, flux (and median normalisation): {rate:,.0f} sources/s ({args.rows:,} rows, "
          f"chunks of {args.chunk:,})")

    def errors():
        for lo in range(0, args.error_rows, 1000):
            np.sqrt(np.sum((design @ covariances[lo:lo + 1000]) * design, axis=2))
    rate = args.error_rows / _best(errors, 1)
    print(f"design matrix, flux errors from each covariance: {rate:,.0f} sources/s ({args.error_rows:,} rows)")


if __name__ == "__main__":
    main()
