"""Out-of-distribution flags: the test stars that lie outside what a model was trained on.

Each prediction table carries ``ood_flags``, the sum of the bits a star has:

- ``spectrum`` (1): the spectrum's mean distance to its ``K`` nearest training spectra, in the
  leading ``N_COMPONENTS`` principal components of the standardised training flux, beyond the
  ``QUANTILE`` of the training stars' own distances (each to the other training stars);
- ``labels`` (2): the predicted labels where the training set has (almost) no stars: their mean
  distance to the ``K`` nearest training stars' labels (standardised) beyond the same quantile
  of the training stars';
- ``model`` (4): what the model itself says (``LabelTransferMethod.misfit_flags``): The
  Cannon's fit of the spectrum worse than that of 99% of training stars; an ensemble's members
  disagreeing by more than the calibrated sigma. Methods without such a measure never set it.

A flag is a warning, not a verdict: 1% of stars like the training stars are flagged by each
of the first two bits by construction.
"""

import numpy as np
import pandas as pd

from .metrics import robust_scatter
from .neighbours import nearest

__all__ = ["FLAGS", "K", "N_COMPONENTS", "QUANTILE", "beyond_training", "spectral_coordinates", "ood_flags",
           "ood_summary"]

#: The bit of each flag.
FLAGS = {"spectrum": 1, "labels": 2, "model": 4}
#: Neighbours whose mean distance measures how far a star is from the training set.
K = 5
#: Principal components of the spectral space.
N_COMPONENTS = 20
#: Quantile of the training stars' own distances beyond which a star is flagged.
QUANTILE = 0.99
#: Training stars whose distances set the threshold (a random subset of them).
_N_REFERENCE = 4000


def _mean_nearest_distance(reference, query, k, skip_first=False):
    """Mean Euclidean distance of each query point to its ``k`` nearest reference points
    (``skip_first``: the query points are reference points, their zero distance to themselves left out)."""
    distances = np.sort(nearest(reference, query, min(k + skip_first, len(reference)))[1], axis=1)
    return distances[:, int(skip_first):].mean(axis=1)


def beyond_training(train_points, points, rng, k=K, quantile=QUANTILE):
    """True where a point is farther from the training points than ``quantile`` of the training points are.

    Parameters
    ----------
    train_points, points : ndarray, shape (n, n_dimensions)
        Rows with a NaN are never flagged (and do not count as training points).
    rng : numpy.random.Generator
        Draws the training points whose own distances set the threshold.
    """
    train_points = train_points[np.all(np.isfinite(train_points), axis=1)]
    reference = rng.permutation(len(train_points))[:_N_REFERENCE]
    threshold = np.quantile(_mean_nearest_distance(train_points, train_points[reference], k, skip_first=True),
                            quantile)
    usable = np.all(np.isfinite(points), axis=1)
    flagged = np.zeros(len(points), dtype=bool)
    flagged[usable] = _mean_nearest_distance(train_points, points[usable], k) > threshold
    return flagged


def spectral_coordinates(train_spectra, spectra, n_components=N_COMPONENTS):
    """Coordinates of the training spectra and of ``spectra`` on the training flux's leading
    principal components (flux standardised per pixel, masked pixels at the mean; not whitened,
    so that the components the spectra vary most along weigh most: whitened, the faint
    components, mostly noise, would drown a star that lies beyond the training set along the
    first few)."""
    train_flux = train_spectra.masked_flux().astype(float)
    mean, std = np.nanmean(train_flux, axis=0), np.nanstd(train_flux, axis=0)
    std[~(std > 0)] = 1.0

    def standard(flux):
        return np.nan_to_num((flux - mean) / std)

    train_standard = standard(train_flux)
    basis = np.linalg.svd(train_standard, full_matrices=False)[2][:n_components].T
    return train_standard @ basis, standard(spectra.masked_flux().astype(float)) @ basis


def ood_flags(train_spectra, train_labels, spectra, predicted, model_flags, seed):
    """The ``ood_flags`` bits of each star of ``spectra``.

    Parameters
    ----------
    train_spectra : Spectra
    train_labels : ndarray, shape (n_train, n_labels)
        Reference labels of the training stars (NaN where missing).
    spectra : Spectra
    predicted : ndarray, shape (n_stars, n_labels)
    model_flags : ndarray of bool, shape (n_stars,)
        The model's own flags (``LabelTransferMethod.misfit_flags``).
    seed : int
    """
    rng = np.random.default_rng(seed)
    train_coordinates, coordinates = spectral_coordinates(train_spectra, spectra)
    mean, std = np.nanmean(train_labels, axis=0), np.nanstd(train_labels, axis=0)
    std[~(std > 0)] = 1.0
    flags = FLAGS["spectrum"] * beyond_training(train_coordinates, coordinates, rng)
    flags += FLAGS["labels"] * beyond_training((train_labels - mean) / std, (predicted - mean) / std, rng)
    flags += FLAGS["model"] * np.asarray(model_flags, dtype=bool)
    return flags.astype(np.int64)


def ood_summary(predictions, labels, min_stars=10):
    """Per method and label: the fraction of test stars flagged (any bit, and each), and the robust
    scatter of the flagged and unflagged stars' residuals with their ratio (NaN under ``min_stars``).

    Parameters
    ----------
    predictions : dict of str to pandas.DataFrame
        Each method's prediction table, with ``ood_flags``.
    labels : sequence of str
    """
    rows = []
    for method, table in predictions.items():
        flags = table["ood_flags"].to_numpy()
        flagged = flags > 0
        fractions = {f"{name}_fraction": float(np.mean((flags & bit) > 0)) for name, bit in FLAGS.items()}
        for label in labels:
            residual = (table[label] - table[f"{label}_ref"]).to_numpy()
            known = np.isfinite(residual)
            inside, outside = residual[known & ~flagged], residual[known & flagged]
            scatter_in = robust_scatter(inside) if inside.size >= min_stars else np.nan
            scatter_out = robust_scatter(outside) if outside.size >= min_stars else np.nan
            rows.append({"method": method, "label": label, "n": int(known.sum()), "n_flagged": int(outside.size),
                         "flagged_fraction": float(np.mean(flagged)), **fractions,
                         "scatter_flagged": scatter_out, "scatter_unflagged": scatter_in,
                         "ratio": scatter_out / scatter_in})
    return pd.DataFrame(rows)
