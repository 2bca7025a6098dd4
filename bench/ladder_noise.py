"""What independent-pixel noise does to the S/N ladder, against noise correlated as XP's is.

The workflow's ladder adds noise independently to each pixel. Gaia XP sampled spectra are 343
samples of at most 110 coefficients, so their real noise lies in a space of at most 110
dimensions. This bench degrades validation stars of a finished run both ways, at the same
per-pixel S/N: independent noise, and band-limited noise drawn in the span of the leading 110
principal components of the training flux (``labeltransfer.diagnostics.degrade.degrade_to_snr`` with a
basis), and prints each method's robust scatter per label and the ratio band-limited /
independent. The test split is not read. Run after the workflow::

    python bench/ladder_noise.py results/xp_from_apogee --stars 1500 --levels 10 30
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labeltransfer.diagnostics.degrade import degrade_to_snr  # noqa: E402
from labeltransfer.evaluation.metrics import robust_scatter  # noqa: E402
from labeltransfer.xp.basis import N_COEFFICIENTS  # noqa: E402
from labeltransfer.pipeline.training import trained_models  # noqa: E402
from labeltransfer.data.sample import LabelledSample  # noqa: E402
from labeltransfer.data.split import read_split  # noqa: E402

def flux_basis(train_flux, n_vectors=N_COEFFICIENTS):
    """Orthonormal (n_pixels, n_vectors): the leading principal components of the training flux."""
    centred = np.nan_to_num(train_flux - np.nanmean(train_flux, axis=0))
    return np.linalg.svd(centred, full_matrices=False)[2][:n_vectors].T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a task's results folder, e.g. results/xp_from_apogee")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--stars", type=int, default=1500, help="validation stars (a seeded random subset)")
    parser.add_argument("--levels", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    results = Path(args.results)
    sample = LabelledSample.load(results / "data" / "sample.npz")
    rows = read_split(results / "data" / "split.csv", sample)
    basis = flux_basis(sample.subset(rows["train"]).spectra.masked_flux())
    validation = sample.subset(np.sort(np.random.default_rng(0).permutation(rows["validation"])[: args.stars]))
    print(f"{len(validation.apogee_id)} validation stars; robust scatter with independent / band-limited noise (ratio), "
          f"labels {', '.join(sample.label_names)}")
    for name, model, features in trained_models(results, config, args.threads):
        spectra = validation.spectra.select_aux(features)
        for k, level in enumerate(args.levels):
            scatter = {}
            for noise, noise_basis in (("independent", None), ("band-limited", basis)):
                noisy, kept = degrade_to_snr(spectra, level, np.random.default_rng([7, k]), basis=noise_basis)
                residual = model.predict(noisy)[0] - validation.labels[kept]
                scatter[noise] = [robust_scatter(residual[:, j]) for j in range(residual.shape[1])]
            cells = ", ".join(f"{a:.4g} / {b:.4g} ({b / a:.2f})" for a, b in zip(scatter["independent"],
                                                                              scatter["band-limited"]))
            print(f"{name:>16} S/N {level:g} ({kept.sum()} stars): {cells}", flush=True)


if __name__ == "__main__":
    main()
