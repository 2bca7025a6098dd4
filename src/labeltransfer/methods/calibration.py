"""The calibration of every method's uncertainties on held-out (validation) stars.

Each label's sigma becomes ``scale * pivot * (sigma / pivot) ** power * (snr / snr_pivot) ** snr_power``,
the scale and both powers chosen so that the fractions of the held-out stars within 1 and 2 sigma
fall as far inside ``COVERAGE_WINDOWS`` as they can, over all of them and in each S/N bin of
``CALIBRATION_SNR_EDGES`` (:func:`calibrate_uncertainties`); the base class applies it in ``predict``
with each star's S/N (the median of its pixels' flux / flux_error).
"""

import logging

import numpy as np

__all__ = ["COVERAGE_WINDOWS", "CALIBRATION_POWERS", "CALIBRATION_SNR_EDGES", "CALIBRATION_SNR_POWERS",
           "calibrate_uncertainties", "calibrated", "no_calibration"]

log = logging.getLogger(__name__)

#: Fewest validation stars with a label on which its uncertainties are calibrated.
MIN_CALIBRATION_STARS = 20
#: Fewest validation stars of an S/N bin whose coverage the calibration holds in the windows (a
#: smaller bin joins the bin below it, the lowest the one above).
MIN_BIN_STARS = 50
#: Fractions of the stars to lie within 1 and 2 sigma that the calibration aims for (around the
#: Gaussian 68.3% and 95.4%), as in the targets of issue 15.
COVERAGE_WINDOWS = {1: (0.60, 0.76), 2: (0.92, 0.98)}
#: Powers of a method's own sigma tried by the calibration (0: one sigma for every star).
CALIBRATION_POWERS = tuple(np.round(np.arange(0.0, 2.0001, 0.05), 2))
#: Powers of the star's S/N tried (0: the S/N plays no part beyond the method's own sigma).
CALIBRATION_SNR_POWERS = tuple(np.round(np.arange(-1.0, 1.0001, 0.1), 2))
#: Inner edges of the S/N bins in each of which the coverage is held in the windows (the default
#: run's bins: 10-30, 30-60, 60-100, 100-200, >= 200).
CALIBRATION_SNR_EDGES = (30.0, 60.0, 100.0, 200.0)
#: The windows' edges as fractions, and the multiple of sigma each belongs to.
_WINDOW_EDGES = np.array([edge for window in COVERAGE_WINDOWS.values() for edge in window])
_WINDOW_SIGMAS = np.array([k_sigma for k_sigma, window in COVERAGE_WINDOWS.items() for _ in window], dtype=float)
#: Rows of a calibration (one column per label).
_ROWS = ("scale", "power", "pivot", "snr_power", "snr_pivot")


def calibrate_uncertainties(predicted, sigma, labels, label_names, who, snr=None, powers=CALIBRATION_POWERS,
                            snr_powers=CALIBRATION_SNR_POWERS):
    """Per-label calibration that puts the coverage of the uncertainties inside ``COVERAGE_WINDOWS``,
    over all the held-out stars and in each of their S/N bins.

    Measured on held-out (validation) stars. The calibrated sigma is
    ``scale * pivot * (sigma / pivot) ** power * (snr / snr_pivot) ** snr_power`` (:func:`calibrated`),
    ``pivot`` the median sigma and ``snr_pivot`` the median S/N: the scale sets the width at the
    typical star, the power how much of the method's own star-to-star range of sigma is kept (1: all
    of it, 0: none, one sigma for every star) and the S/N power how the width follows the star's
    S/N beyond what the method's own sigma does (a method whose sigma is too narrow for its faint
    stars and too wide for its bright ones gets a negative one). For a Gaussian 68.3% of the stars
    lie within 1 sigma and 95.4% within 2; the residuals here have heavier tails, and a method whose
    sigma ranks its stars' errors poorly has heavier tails still in residual / sigma, so that no
    single scale puts both fractions in their windows (60-76% and 92-98%). Of the ``powers`` and
    ``snr_powers`` tried and a fine grid of scales, the triple taken is the one whose fractions, all
    stars' and each S/N bin's (``CALIBRATION_SNR_EDGES``, a bin under ``MIN_BIN_STARS`` stars joined
    to its neighbour), lie farthest from the nearest window edge, counted in binomial standard
    errors of each fraction (``sqrt(f (1 - f) / n)``): the choice that other stars of the same kind
    (the test split, a survey) are least likely to push out of a window (of triples that tie, as
    fractions of n stars can, the middle scale, the power nearest 1 and the S/N power nearest 0).
    Where no triple puts every fraction inside, the one that misses by the fewest standard errors is
    taken (logged). A label with fewer than ``MIN_CALIBRATION_STARS`` reference values, or too many
    exact predictions for a positive scale, keeps sigma as it is (with a warning).

    Parameters
    ----------
    predicted, sigma, labels : ndarray, shape (n_stars, n_labels)
        Predicted labels, their uncalibrated 1-sigma uncertainties and the reference labels
        (NaN where missing).
    label_names : sequence of str
    who : str
        Name of the method, for the log.
    snr : ndarray, shape (n_stars,), optional
        Each star's S/N; None: no S/N term (``snr_powers`` ignored, one set of stars).
    powers, snr_powers : sequence of float
        Powers tried (``(1.0,)`` and ``(0.0,)``: the scale alone).

    Returns
    -------
    ndarray, shape (5, n_labels)
        Rows ``scale``, ``power``, ``pivot``, ``snr_power`` and ``snr_pivot``, for :func:`calibrated`.
    """
    residual = np.abs(predicted - labels)
    calibration = no_calibration(residual.shape[1])
    snr = np.full(len(residual), np.nan) if snr is None else np.asarray(snr, dtype=float)
    for k, name in enumerate(label_names):
        usable = np.isfinite(residual[:, k]) & np.isfinite(sigma[:, k]) & (sigma[:, k] > 0)
        if usable.sum() < MIN_CALIBRATION_STARS:
            log.warning("%s: %d validation stars with %s, too few to calibrate its uncertainty",
                        who, usable.sum(), name)
            continue
        r, s = residual[usable, k], sigma[usable, k]
        pivot = float(np.median(s))
        star_snr = snr[usable]
        if np.all(np.isfinite(star_snr) & (star_snr > 0)):
            snr_pivot, tried_snr_powers, bins = float(np.median(star_snr)), snr_powers, _snr_bins(star_snr)
        else:  # an S/N missing: no S/N term
            snr_pivot, tried_snr_powers, bins = 1.0, (0.0,), [np.arange(len(r))]
        ratio = star_snr / snr_pivot
        # ties (the fractions move in steps of 1 / n) go to the power nearest 1 and the S/N power nearest 0
        margin, *_, scale, power, snr_power = max(
            _best_scale(r / (pivot * (s / pivot) ** power * ratio ** snr_power), bins, power, snr_power)
            for power in powers for snr_power in tried_snr_powers)
        if not scale > 0:
            log.warning("%s: the %s residuals are mostly exactly zero on the validation stars; its uncertainty "
                        "is not calibrated", who, name)
            continue
        calibration[:, k] = scale, power, pivot, snr_power, snr_pivot
        if margin < 0:
            log.info("%s: no scale and powers put the %s coverage in both windows in every S/N bin (tails heavier "
                     "than allowed); the triple missing them by the fewest standard errors (%.1f) is taken",
                     who, name, -margin)
    log.info("%s: uncertainties calibrated on validation stars (coverage windows of residual / sigma, all stars and "
             "per S/N bin): %s", who, {row: dict(zip(label_names, np.round(values, 3).tolist()))
                                       for row, values in zip(_ROWS, calibration) if row != "pivot"})
    return calibration


def _snr_bins(snr):
    """The indices of the stars in each S/N bin of ``CALIBRATION_SNR_EDGES``, a bin of fewer than
    ``MIN_BIN_STARS`` joined to the one below it (the lowest to the one above); the stars all in one
    bin where they are too few for two."""
    which = np.searchsorted(CALIBRATION_SNR_EDGES, snr, side="right")
    groups = [np.flatnonzero(which == b) for b in range(len(CALIBRATION_SNR_EDGES) + 1)]
    groups = [g for g in groups if len(g)]
    merged = []
    for group in groups:
        if merged and (len(group) < MIN_BIN_STARS or len(merged[-1]) < MIN_BIN_STARS):
            merged[-1] = np.concatenate([merged[-1], group])
        else:
            merged.append(group)
    if len(merged) > 1 and len(merged[-1]) < MIN_BIN_STARS:
        merged[-2:] = [np.concatenate(merged[-2:])]
    return merged


def _best_scale(z, bins, power, snr_power, n_scales=512):
    """(margin, -|power - 1|, -|snr_power|, scale, power, snr_power): the scale of ``|z|`` whose fractions
    within 1 and 2 sigma, of all the stars and of each of the ``bins`` (index arrays), lie farthest inside
    ``COVERAGE_WINDOWS``, the margin in binomial standard errors (negative where the windows cannot all be
    met); of the scales that tie, the middle one."""
    groups = [np.sort(z)] + ([np.sort(z[b]) for b in bins] if len(bins) > 1 else [])
    bounds = np.concatenate([_sorted_quantiles(g, _WINDOW_EDGES) for g in groups]) / np.tile(_WINDOW_SIGMAS, len(groups))
    if not min(bounds) > 0:
        return -np.inf, -abs(power - 1), -abs(snr_power), 0.0, power, snr_power
    scales = np.geomspace(0.9 * min(bounds), 1.1 * max(bounds), n_scales)
    margin = np.full(n_scales, np.inf)
    for group in groups:
        for k_sigma, (low, high) in COVERAGE_WINDOWS.items():
            within = np.searchsorted(group, k_sigma * scales) / len(group)
            standard_error = np.sqrt(np.clip(within * (1 - within), 1 / len(group), None) / len(group))
            margin = np.minimum(margin, np.minimum(within - low, high - within) / standard_error)
    tied = np.flatnonzero(margin == margin.max())
    return (float(margin.max()), -abs(power - 1), -abs(snr_power), float(scales[tied[len(tied) // 2]]), power,
            snr_power)


def _sorted_quantiles(values, quantiles):
    """``numpy.quantile(values, quantiles)`` (linear) of already sorted ``values``, without the sort."""
    position = np.asarray(quantiles) * (len(values) - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, len(values) - 1)
    return values[below] + (position - below) * (values[above] - values[below])


def no_calibration(n_labels):
    """The identity calibration (scale 1, power 1, pivot 1, no S/N term) for ``n_labels`` labels."""
    calibration = np.ones((len(_ROWS), n_labels))
    calibration[_ROWS.index("snr_power")] = 0.0
    return calibration


def calibrated(sigma, calibration, snr=None):
    """Calibrated uncertainties: ``scale * pivot * (sigma / pivot) ** power * (snr / snr_pivot) ** snr_power``
    per label (column), ``snr`` (n_stars,) each star's S/N.

    A calibration of three rows (a model file from before the S/N term) has none. A missing (NaN) or
    zero sigma stays as it is, to be counted as such by the metrics; a star without a positive S/N
    gets the S/N term of the pivot's (none).
    """
    scale, power, pivot, *snr_term = calibration
    usable = np.isfinite(sigma) & (sigma > 0)
    width = scale * pivot * (np.where(usable, sigma, pivot) / pivot) ** power
    if snr_term and np.any(snr_term[0] != 0):
        if snr is None:
            raise ValueError("this calibration follows the star's S/N: give each star's snr")
        snr_power, snr_pivot = snr_term
        snr = np.asarray(snr, dtype=float)[:, None]
        ratio = np.where(np.isfinite(snr) & (snr > 0), snr / snr_pivot, 1.0)
        width = width * ratio ** snr_power
    return np.where(usable, width, sigma)
