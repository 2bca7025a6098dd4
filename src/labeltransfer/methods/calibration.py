"""The calibration of every method's uncertainties on held-out (validation) stars.

Each label's sigma becomes ``scale * pivot * (sigma / pivot) ** power``, the scale and power
chosen so that the fractions of the held-out stars within 1 and 2 sigma fall as far inside
``COVERAGE_WINDOWS`` as they can (:func:`calibrate_uncertainties`); the base class applies it in ``predict``.
"""

import logging

import numpy as np

__all__ = ["COVERAGE_WINDOWS", "CALIBRATION_POWERS", "calibrate_uncertainties", "calibrated", "no_calibration"]

log = logging.getLogger(__name__)

#: Fewest validation stars with a label on which its uncertainties are calibrated.
MIN_CALIBRATION_STARS = 20
#: Fractions of the stars to lie within 1 and 2 sigma that the calibration aims for (around the
#: Gaussian 68.3% and 95.4%), as in the targets of issue 15.
COVERAGE_WINDOWS = {1: (0.60, 0.76), 2: (0.92, 0.98)}
#: Powers of a method's own sigma tried by the calibration (0: one sigma for every star).
CALIBRATION_POWERS = tuple(np.round(np.arange(0.0, 2.0001, 0.05), 2))


def calibrate_uncertainties(predicted, sigma, labels, label_names, who, powers=CALIBRATION_POWERS):
    """Per-label calibration that puts the coverage of the uncertainties inside ``COVERAGE_WINDOWS``.

    Measured on held-out (validation) stars. The calibrated sigma is
    ``scale * pivot * (sigma / pivot) ** power`` (:func:`calibrated`), ``pivot`` the median
    sigma: the scale sets the width at the typical star and the power how much of the method's
    own star-to-star range of sigma is kept (1: all of it, 0: none, one sigma for every star).
    For a Gaussian 68.3% of the stars lie within 1 sigma and 95.4% within 2; the residuals here
    have heavier tails, and a method whose sigma ranks its stars' errors poorly has heavier tails
    still in residual / sigma, so that no single scale puts both fractions in their windows
    (60-76% and 92-98%). Of the ``powers`` tried and a fine grid of scales, the pair taken is the
    one whose two fractions lie farthest from the nearest window edge, counted in binomial
    standard errors of each fraction (``sqrt(f (1 - f) / n)``): the choice that other stars of
    the same kind (the test split, a survey) are least likely to push out of a window (of pairs
    that tie, as fractions of n stars can, the middle scale and the power nearest 1). Where no
    pair puts both fractions inside, the pair that misses by the fewest standard errors is taken
    (logged). A label with fewer than ``MIN_CALIBRATION_STARS`` reference values, or too many
    exact predictions for a positive scale, keeps sigma as it is (with a warning).

    Parameters
    ----------
    predicted, sigma, labels : ndarray, shape (n_stars, n_labels)
        Predicted labels, their uncalibrated 1-sigma uncertainties and the reference labels
        (NaN where missing).
    label_names : sequence of str
    who : str
        Name of the method, for the log.
    powers : sequence of float
        Powers tried (``(1.0,)``: the scale alone).

    Returns
    -------
    ndarray, shape (3, n_labels)
        Rows ``scale``, ``power`` and ``pivot``, for :func:`calibrated`.
    """
    residual = np.abs(predicted - labels)
    calibration = no_calibration(residual.shape[1])
    for k, name in enumerate(label_names):
        usable = np.isfinite(residual[:, k]) & np.isfinite(sigma[:, k]) & (sigma[:, k] > 0)
        if usable.sum() < MIN_CALIBRATION_STARS:
            log.warning("%s: %d validation stars with %s, too few to calibrate its uncertainty",
                        who, usable.sum(), name)
            continue
        r, s = residual[usable, k], sigma[usable, k]
        pivot = float(np.median(s))
        # ties (the fractions move in steps of 1 / n) go to the power nearest 1: the method's own sigma
        margin, _, scale, power = max(_best_scale(np.sort(r / (pivot * (s / pivot) ** power)), power)
                                      for power in powers)
        if not scale > 0:
            log.warning("%s: the %s residuals are mostly exactly zero on the validation stars; its uncertainty "
                        "is not calibrated", who, name)
            continue
        calibration[:, k] = scale, power, pivot
        if margin < 0:
            log.info("%s: no scale and power put the %s coverage in both windows (tails heavier than allowed); "
                     "the pair missing them by the fewest standard errors (%.1f) is taken", who, name, -margin)
    log.info("%s: uncertainties calibrated on validation stars (coverage windows of residual / sigma): "
             "scale %s, power %s", who, dict(zip(label_names, np.round(calibration[0], 3).tolist())),
             dict(zip(label_names, calibration[1].tolist())))
    return calibration


def _best_scale(z, power, n_scales=512):
    """(margin, -|power - 1|, scale, power): the scale of sorted ``|z|`` whose fractions within 1
    and 2 sigma lie farthest inside ``COVERAGE_WINDOWS``, the margin in binomial standard errors
    (negative where the windows cannot both be met); of the scales that tie, the middle one."""
    bounds = [np.quantile(z, p) / k_sigma for k_sigma, window in COVERAGE_WINDOWS.items() for p in window]
    if not min(bounds) > 0:
        return -np.inf, -abs(power - 1), 0.0, power
    scales = np.geomspace(0.9 * min(bounds), 1.1 * max(bounds), n_scales)
    margin = np.full(n_scales, np.inf)
    for k_sigma, (low, high) in COVERAGE_WINDOWS.items():
        within = np.searchsorted(z, k_sigma * scales) / len(z)
        standard_error = np.sqrt(np.clip(within * (1 - within), 1 / len(z), None) / len(z))
        margin = np.minimum(margin, np.minimum(within - low, high - within) / standard_error)
    tied = np.flatnonzero(margin == margin.max())
    return float(margin.max()), -abs(power - 1), float(scales[tied[len(tied) // 2]]), power


def no_calibration(n_labels):
    """The identity calibration (scale 1, power 1, pivot 1) for ``n_labels`` labels."""
    return np.ones((3, n_labels))


def calibrated(sigma, calibration):
    """Calibrated uncertainties: ``scale * pivot * (sigma / pivot) ** power`` per label (column).

    A missing (NaN) or zero sigma stays as it is, to be counted as such by the metrics.
    """
    scale, power, pivot = calibration
    usable = np.isfinite(sigma) & (sigma > 0)
    return np.where(usable, scale * pivot * (np.where(usable, sigma, pivot) / pivot) ** power, sigma)
