"""The metrics every method is judged by, per label and per subset of the test set.

For residuals ``r = predicted - reference`` of the stars with a reference label:

- ``bias``: median of ``r``;
- ``scatter``: robust scatter, 1.4826 x median absolute deviation of ``r`` about its median;
- ``rmse``: root mean square of ``r``;
- ``outlier_frac``: fraction of stars with ``|r - bias| > 3 scatter``;
- ``z_width``: robust scatter of ``r / sigma_predicted`` (1 for honest uncertainties; > 1 when
  they are too small). Only the predicted sigma enters: the reference errors of APOGEE DR17
  are small next to the label-transfer errors;
- ``z_rms``: root mean square of ``r / sigma_predicted`` (1 for Gaussian-honest uncertainties;
  with heavy-tailed residuals it exceeds ``z_width``, and outliers dominate it);
- ``cover_1``, ``cover_2``, ``cover_3``: fraction of the stars with ``|r| < k sigma_predicted``
  (68.3, 95.4 and 99.7% for Gaussian-honest uncertainties); a star whose sigma is missing or
  not positive counts as not covered, and ``n_bad_sigma`` counts such stars;
- ``nll``: mean Gaussian negative log-likelihood of ``r`` under the predicted sigma,
  ``0.5 ln(2 pi sigma^2) + r^2 / (2 sigma^2)``, in nats for a density in the label's units (so
  comparable between methods, not between labels; lower is better; ``0.5 ln(2 pi sigma^2) + 0.5``
  for honest Gaussian sigmas); it punishes a sigma too small more than one too large;
- ``crps``: mean continuous ranked probability score of the Gaussian ``N(predicted, sigma)``
  against the reference, ``sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)]`` with
  ``z = r / sigma``, in the label's units (lower is better; the mean ``|r|`` as sigma -> 0, and
  ``sigma / sqrt(pi)`` for honest Gaussian sigmas). ``nll`` and ``crps``
  are means over the stars with a usable sigma (``n_bad_sigma`` counts the others);
- ``sigma_median``: median predicted sigma. Every method's sigma is calibrated against the
  APOGEE labels (on the validation split), so it is the spread of prediction minus APOGEE
  label, reference error included; ``sigma_star_median`` is the median of
  ``sqrt(sigma^2 - sigma_ref^2)`` (0 where the reference error is the larger), the star's own
  label uncertainty with the reference error removed. They differ where the reference errors
  are not small next to the transfer errors (APOGEE's [alpha/M]).

A subset with fewer than ``MIN_SUBSET_STARS`` stars is too small for a robust scatter: its
metrics are NaN, with its count. The intervals of the scatter and bias, and the paired
differences between methods, come from a bootstrap over the test stars
(:mod:`labeltransfer.evaluation.summary`, for the comparison and the diagnostics alike).
"""

import numpy as np
from scipy import special

__all__ = ["robust_scatter", "fraction_beyond", "widths_within", "gaussian_nll", "gaussian_crps", "label_metrics",
           "giant_dwarf_masks", "snr_bin_masks", "teff_bin_masks", "subset_masks", "GIANT_LOGG", "MIN_SUBSET_STARS",
           "COVERAGE_SIGMAS"]

MAD_TO_SIGMA = 1.4826
#: Stars with reference logg below this are counted as giants, the rest as dwarfs.
GIANT_LOGG = 3.5
OUTLIER_SIGMAS = 3.0
#: Fewest stars of a subset whose metrics are reported.
MIN_SUBSET_STARS = 30
#: Multiples of the predicted sigma whose coverage is reported.
COVERAGE_SIGMAS = (1, 2, 3)
_METRICS = ("bias", "scatter", "rmse", "outlier_frac", "z_width", "z_rms",
            *(f"cover_{k}" for k in COVERAGE_SIGMAS), "sigma_median", "sigma_star_median", "nll", "crps")


def robust_scatter(values):
    """1.4826 x median absolute deviation about the median (NaN ignored; NaN if empty)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan
    return MAD_TO_SIGMA * np.median(np.abs(values - np.median(values)))


def fraction_beyond(z, k=3.0):
    """Fraction of the finite values of ``z`` (residual / sigma) with ``|z| > k``, per column.

    Parameters
    ----------
    z : ndarray, shape (n_stars, n_labels)
    k : float

    Returns
    -------
    list of float, one per column (NaN for a column without finite values).
    """
    return [float(np.mean(np.abs(c[np.isfinite(c)]) > k)) if np.isfinite(c).any() else np.nan
            for c in np.asarray(z, dtype=float).T]


def widths_within(z, masks):
    """Robust width of each column of ``z`` (residual / sigma) within each subset of stars.

    Parameters
    ----------
    z : ndarray, shape (n_stars, n_labels)
    masks : dict
        Subset name -> boolean mask over the stars (for example :func:`snr_bin_masks`).

    Returns
    -------
    dict subset name -> list of float, one per column (NaN where the subset has no finite value).
    """
    z = np.asarray(z, dtype=float)
    return {name: [float(robust_scatter(column)) for column in z[mask].T] for name, mask in masks.items()}


def gaussian_nll(residual, sigma):
    """Negative log-likelihood of each residual under ``N(0, sigma^2)``, in nats.

    Parameters
    ----------
    residual, sigma : ndarray, shape (n_stars,)
        Predicted minus reference, and the predicted sigma (positive), in the label's units.

    Returns
    -------
    ndarray, shape (n_stars,): ``0.5 ln(2 pi sigma^2) + residual^2 / (2 sigma^2)``.
    """
    residual, sigma = np.asarray(residual, dtype=float), np.asarray(sigma, dtype=float)
    return 0.5 * np.log(2 * np.pi * sigma ** 2) + 0.5 * (residual / sigma) ** 2


def gaussian_crps(residual, sigma):
    """Continuous ranked probability score of ``N(predicted, sigma^2)`` against the reference, per star
    (``residual`` and ``sigma`` as in :func:`gaussian_nll`), in the label's units:
    ``sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)]`` with ``z = residual / sigma`` (Gneiting &
    Raftery 2007, eq. 5; symmetric in the sign of ``z``)."""
    residual, sigma = np.asarray(residual, dtype=float), np.asarray(sigma, dtype=float)
    z = residual / sigma
    density = np.exp(-0.5 * z ** 2) / np.sqrt(2 * np.pi)
    return sigma * (z * special.erf(z / np.sqrt(2)) + 2 * density - 1 / np.sqrt(np.pi))


def label_metrics(predicted, reference, sigma, reference_err=None, min_stars=MIN_SUBSET_STARS):
    """Metrics of one label (see the module docstring); stars without a prediction or reference are left out.

    Parameters
    ----------
    predicted, reference, sigma : ndarray, shape (n_stars,)
    reference_err : ndarray, shape (n_stars,), optional
        The reference labels' errors (for ``sigma_star_median``; NaN without them).
    min_stars : int
        Fewer stars than this give NaN metrics (with ``n``).

    Returns
    -------
    dict with ``n``, ``n_bad_sigma`` and the metrics named in the module docstring.
    """
    predicted, reference, sigma = (np.asarray(a, dtype=float) for a in (predicted, reference, sigma))
    reference_err = np.full_like(sigma, np.nan) if reference_err is None else np.asarray(reference_err, dtype=float)
    good = np.isfinite(predicted) & np.isfinite(reference)
    resid, sigma, reference_err = predicted[good] - reference[good], sigma[good], reference_err[good]
    usable = np.isfinite(sigma) & (sigma > 0)
    result = {"n": int(resid.size), "n_bad_sigma": int((~usable).sum()), **dict.fromkeys(_METRICS, np.nan)}
    if resid.size < max(min_stars, 1):
        return result
    bias = float(np.median(resid))
    scatter = robust_scatter(resid)
    z = resid[usable] / sigma[usable]
    result.update({
        "bias": bias,
        "scatter": float(scatter),
        "rmse": float(np.sqrt(np.mean(resid ** 2))),
        "outlier_frac": float(np.mean(np.abs(resid - bias) > OUTLIER_SIGMAS * scatter)),
        "z_width": float(robust_scatter(z)),
        "z_rms": float(np.sqrt(np.mean(z ** 2))) if z.size else np.nan,
        **{f"cover_{k}": float(np.sum(np.abs(z) < k) / resid.size) for k in COVERAGE_SIGMAS},
    })
    if usable.any():
        star_sigma = np.sqrt(np.clip(sigma[usable] ** 2 - reference_err[usable] ** 2, 0, None))
        result["sigma_median"] = float(np.median(sigma[usable]))
        result["sigma_star_median"] = float(np.median(star_sigma)) if np.isfinite(star_sigma).all() else np.nan
        result["nll"] = float(np.mean(gaussian_nll(resid[usable], sigma[usable])))
        result["crps"] = float(np.mean(gaussian_crps(resid[usable], sigma[usable])))
    return result


def subset_masks(logg_reference, snr, snr_bins, has_parallax=None, teff_reference=None, teff_bins=None):
    """Boolean masks of the subsets: all, giants, dwarfs, one per S/N bin, with / without parallax, and
    one per reference-Teff bin.

    Parameters
    ----------
    logg_reference : ndarray, shape (n_stars,)
        Reference logg (giants: logg < 3.5).
    snr : ndarray, shape (n_stars,)
        S/N of the spectrum being labelled.
    snr_bins : sequence of float
        Bin edges, increasing; the last may be ``inf``.
    has_parallax : ndarray of bool, shape (n_stars,), optional
        Whether each star has a parallax (subsets ``with_parallax``, ``without_parallax``).
    teff_reference : ndarray, shape (n_stars,), optional
        Reference Teff in K (needed with ``teff_bins``).
    teff_bins : sequence of float, optional
        Edges of the reference-Teff bins in K, increasing (none: no Teff subsets).

    Returns
    -------
    dict name -> mask; S/N subsets are named ``snr_<lo>-<hi>``, Teff subsets ``teff_<lo>-<hi>``. The Teff
    subsets come last, so that the other subsets keep their places (and their bootstrap seeds).
    """
    masks = {**giant_dwarf_masks(logg_reference), **snr_bin_masks(snr, snr_bins)}
    if has_parallax is not None:
        masks["with_parallax"] = np.asarray(has_parallax, dtype=bool)
        masks["without_parallax"] = ~masks["with_parallax"]
    if teff_bins is not None:
        if teff_reference is None:
            raise ValueError("subset_masks: teff_bins given without the reference Teff (teff_reference)")
        masks.update(teff_bin_masks(teff_reference, teff_bins))
    return masks


def giant_dwarf_masks(logg_reference):
    """Boolean masks of all stars, the giants (reference logg below ``GIANT_LOGG``) and the dwarfs.

    Parameters
    ----------
    logg_reference : ndarray, shape (n_stars,)
        Reference logg; a star without one is in neither the giants nor the dwarfs.

    Returns
    -------
    dict with keys ``all``, ``giants``, ``dwarfs``.
    """
    logg_reference = np.asarray(logg_reference, dtype=float)
    return {"all": np.ones(len(logg_reference), dtype=bool), "giants": logg_reference < GIANT_LOGG,
            "dwarfs": logg_reference >= GIANT_LOGG}


def snr_bin_masks(snr, snr_bins):
    """Boolean masks of the S/N bins, named ``snr_<lo>-<hi>`` (edges increasing, the last may be inf)."""
    return _bin_masks("snr", snr, snr_bins)


def _bin_masks(prefix, values, edges):
    """Boolean masks of the half-open bins ``lo <= value < hi`` of ``edges``, named ``<prefix>_<lo>-<hi>``."""
    values = np.asarray(values, dtype=float)
    return {f"{prefix}_{lo:g}-{hi:g}": (values >= lo) & (values < hi) for lo, hi in zip(edges[:-1], edges[1:])}


def teff_bin_masks(teff_reference, teff_bins):
    """Boolean masks of the reference-Teff bins, named ``teff_<lo>-<hi>`` (half-open, ``lo <= Teff < hi``).

    Parameters
    ----------
    teff_reference : ndarray, shape (n_stars,)
        Reference Teff in K; a star without one is in no bin.
    teff_bins : sequence of float
        Bin edges in K, increasing (config ``teff_bins``); the last may be ``inf``.

    Returns
    -------
    dict name -> ndarray of bool, shape (n_stars,).
    """
    if any(lo >= hi for lo, hi in zip(teff_bins[:-1], teff_bins[1:])):
        raise ValueError(f"teff_bins must increase, got {list(teff_bins)}")
    return _bin_masks("teff", teff_reference, teff_bins)
