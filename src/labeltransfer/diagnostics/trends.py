"""Residual trends: how each method's residuals change with extinction, brightness and sky position.

For every method, label and quantity (A_K, G, Galactic l and b) the slope of a straight line
fitted by least squares to residual against quantity, over the test stars with both (residuals
beyond 5 robust widths of the median left out, so that a few catastrophic stars do not set the
slope), with its 95% interval from a seeded bootstrap over the stars. A slope whose interval
excludes zero is a trend: the method's labels depend on something they should not.
"""

import numpy as np
import pandas as pd

from ..evaluation.metrics import robust_scatter

__all__ = ["QUANTITIES", "trend_quantities", "residual_trends", "fitted_slopes"]

#: The quantities against which residuals are examined, with their axis text.
QUANTITIES = {"a_k": r"$A_K$ [mag]", "g_mag": "G [mag]", "gal_l": "Galactic $l$ [deg]", "gal_b": "Galactic $b$ [deg]"}
#: Residuals farther than this many robust widths from the median are left out of a slope.
_CLIP = 5.0


def trend_quantities(sample, ids):
    """A_K, G, Galactic l (from -180 to 180 deg, the centre at 0) and b of the stars ``ids`` of a sample."""
    from astropy import units
    from astropy.coordinates import SkyCoord

    rows = sample.rows_of(ids)
    galactic = SkyCoord(ra=sample.ra[rows] * units.deg, dec=sample.dec[rows] * units.deg).galactic
    return pd.DataFrame({"a_k": sample.extinction_k[rows], "g_mag": sample.g_mag[rows],
                         "gal_l": galactic.l.wrap_at(180 * units.deg).deg, "gal_b": galactic.b.deg})


def fitted_slopes(x, y, rows=None):
    """Least-squares slopes of ``y`` on ``x``; with ``rows`` (n_resamples, n) one slope per resample."""
    if rows is not None:
        x, y = x[rows], y[rows]
    dx = x - x.mean(axis=-1, keepdims=True)
    return np.sum(dx * (y - y.mean(axis=-1, keepdims=True)), axis=-1) / np.sum(dx ** 2, axis=-1)


def residual_trends(predictions, quantities, labels, n_resamples=1000, seed=0, min_stars=30):
    """One row per method, label and quantity: ``n``, ``slope`` (label units per quantity unit) and its 95% interval.

    Parameters
    ----------
    predictions : dict of str to pandas.DataFrame
        Each method's prediction table (``<label>`` and ``<label>_ref``), rows in the order of
        ``quantities``.
    quantities : pandas.DataFrame
        The columns of ``QUANTITIES`` for the same stars.
    labels : sequence of str
    """
    rng = np.random.default_rng(seed)
    rows = []
    for method, table in predictions.items():
        for label in labels:
            residual = (table[label] - table[f"{label}_ref"]).to_numpy()
            centre, width = np.nanmedian(residual), robust_scatter(residual)
            kept = np.isfinite(residual) & (np.abs(residual - centre) <= _CLIP * width)
            for quantity in QUANTITIES:
                x = quantities[quantity].to_numpy(dtype=float)
                good = kept & np.isfinite(x)
                row = {"method": method, "label": label, "quantity": quantity, "n": int(good.sum()),
                       "slope": np.nan, "slope_lo95": np.nan, "slope_hi95": np.nan}
                if good.sum() >= min_stars and np.ptp(x[good]) > 0:
                    resamples = rng.integers(0, good.sum(), (n_resamples, good.sum()))
                    spread = fitted_slopes(x[good], residual[good], resamples)
                    row.update(slope=float(fitted_slopes(x[good], residual[good])),
                               slope_lo95=float(np.nanpercentile(spread, 2.5)),
                               slope_hi95=float(np.nanpercentile(spread, 97.5)))
                rows.append(row)
    return pd.DataFrame(rows)
