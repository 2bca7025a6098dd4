"""Workflow steps that score the S/N ladder: every method's labels of the noisier test stars.

The ladder's predictions (:func:`labeltransfer.pipeline.modelling.predict_snr_ladder`: test
stars degraded to each S/N of the ladder, the same noisy spectra for every method) give the
scatter (with its bootstrap interval), bias and calibration width of every method, label and
level, over all stars and for giants and dwarfs apart, with the S/N that stars of G = 15, 16,
17 have in the sample.
"""

import logging

import numpy as np
import pandas as pd

from .. import diagnostic_plots, plots
from ..bootstrap import bootstrap_scatter_bias
from ..degrade import snr_at_magnitudes
from ..metrics import GIANT_LOGG, robust_scatter
from ..sample import LabelledSample

__all__ = ["LADDER_MAGNITUDES", "evaluate_snr_ladder", "plot_snr_ladder"]

log = logging.getLogger(__name__)

#: G magnitudes whose typical S/N the ladder table and figure give.
LADDER_MAGNITUDES = (15.0, 16.0, 17.0)
#: Bootstrap resamples of the ladder's scatter intervals.
_RESAMPLES = 500


def evaluate_snr_ladder(*, methods, prediction_paths, sample_path, labels, seed, table_path, magnitudes_path):
    """Scatter (68% bootstrap interval), bias and z width per method, level, label and subset; the S/N-G relation."""
    rng = np.random.default_rng(seed)
    rows = []
    for method, path in zip(methods, prediction_paths):
        table = pd.read_csv(path, dtype={"apogee_id": str})
        for level, at_level in table.groupby("level"):
            logg = at_level["logg_ref"].to_numpy() if "logg_ref" in at_level else np.full(len(at_level), np.nan)
            for subset, mask in (("all", np.ones(len(at_level), bool)), ("giants", logg < GIANT_LOGG),
                                 ("dwarfs", logg >= GIANT_LOGG)):
                for label in labels:
                    rows.append({"method": method, "level": level, "subset": subset, "label": label,
                                 **_ladder_metrics(at_level[mask], label, rng)})
    pd.DataFrame(rows).to_csv(table_path, index=False)
    sample = LabelledSample.load(sample_path)
    snr = snr_at_magnitudes(sample.snr, sample.g_mag, LADDER_MAGNITUDES)
    log.info("typical S/N at G = %s: %s", LADDER_MAGNITUDES, np.round(snr, 1).tolist())
    pd.DataFrame({"g_mag": LADDER_MAGNITUDES, "snr": snr}).to_csv(magnitudes_path, index=False)


def _ladder_metrics(table, label, rng):
    """n, scatter with its 68% interval, bias and the robust width of residual / sigma of one label."""
    residual = (table[label] - table[f"{label}_ref"]).to_numpy()
    z = residual / table[f"{label}_err"].to_numpy()
    good = np.isfinite(residual)
    if good.sum() < 30:
        return {"n": int(good.sum()), "scatter": np.nan, "scatter_lo68": np.nan, "scatter_hi68": np.nan,
                "bias": np.nan, "z_width": np.nan}
    scatter, _ = bootstrap_scatter_bias(residual[good, None], _RESAMPLES, rng)
    lo, hi = np.percentile(scatter[:, 0], [15.865, 84.135])
    return {"n": int(good.sum()), "scatter": robust_scatter(residual[good]), "scatter_lo68": lo,
            "scatter_hi68": hi, "bias": float(np.median(residual[good])), "z_width": robust_scatter(z[good])}


def plot_snr_ladder(*, table_path, magnitudes_path, labels, figure_path):
    """The ladder figure (:func:`labeltransfer.diagnostic_plots.snr_ladder`)."""
    figure = diagnostic_plots.snr_ladder(pd.read_csv(table_path), pd.read_csv(magnitudes_path), labels)
    plots.save(figure, figure_path)
