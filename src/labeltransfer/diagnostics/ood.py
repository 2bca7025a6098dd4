"""Out-of-distribution flags: the test stars that lie outside what a model was trained on.

Each prediction table carries ``flags``, the sum of the bits a star has:

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
from scipy.spatial import cKDTree

from ..evaluation.metrics import robust_scatter

__all__ = ["FLAGS", "SURVEY_FLAGS", "SURVEY_FLAG_MEANINGS", "K", "N_COMPONENTS", "QUANTILE", "beyond_training",
           "TrainingDomain", "domain_flags", "ood_summary"]

#: The bit of each flag.
FLAGS = {"spectrum": 1, "labels": 2, "model": 4}
#: The bits of a survey catalogue's ``flags``: these flags (0 where no training set was given), a
#: source with one usable XP band only, and a spectrum with pixels whose flux error was not positive.
SURVEY_FLAGS = {**FLAGS, "missing_band": 8, "nonpositive_error": 16}
#: Neighbours whose mean distance measures how far a star is from the training set.
K = 5
#: Principal components of the spectral space.
N_COMPONENTS = 20
#: Quantile of the training stars' own distances beyond which a star is flagged.
QUANTILE = 0.99
#: What each bit of :data:`SURVEY_FLAGS` means (written into every catalogue).
SURVEY_FLAG_MEANINGS = {
    "spectrum": f"the spectrum lies beyond the training spectra (mean distance to its {K} nearest in their "
                f"principal components beyond the {100 * QUANTILE:g}th percentile of the training stars')",
    "labels": "the predicted labels lie where the training set has (almost) no stars",
    "model": "the model's own misfit: The Cannon's fit worse than 99% of training stars', or an ensemble's "
             "members disagreeing by more than the calibrated sigma",
    "missing_band": "one XP band missing, or unusable (a NaN, infinite or overflowing coefficient, error or "
                    "correlation): labelled from the other band's pixels alone",
    "nonpositive_error": "pixels with a finite flux and a flux_error <= 0 (no measurement) were left out",
}
#: Training stars whose distances set the threshold (a random subset of them).
_N_REFERENCE = 4000


def _mean_nearest_distance(tree, query, k, skip_first=False, workers=1):
    """Mean Euclidean distance of each query point to its ``k`` nearest points of the KD-tree
    (``skip_first``: the query points are in the tree, their zero distance to themselves left out)."""
    k = min(k + skip_first, tree.n)
    distances = tree.query(query, k=k, workers=workers)[0].reshape(len(query), k)
    return distances[:, int(skip_first):].mean(axis=1)


class _Beyond:
    """Whether points lie farther from the training points (finite ones) than ``threshold``, in
    the mean distance to their ``k`` nearest."""

    def __init__(self, train_points, threshold, k=K):
        self.tree, self.threshold, self.k = cKDTree(train_points), float(threshold), k

    @classmethod
    def fitted(cls, train_points, rng, k=K, quantile=QUANTILE):
        """The test whose threshold is ``quantile`` of the training points' own distances (of up to
        ``_N_REFERENCE`` of them, drawn with ``rng``); rows with a NaN are left out."""
        train_points = train_points[np.all(np.isfinite(train_points), axis=1)]
        beyond = cls(train_points, np.inf, k)
        reference = rng.permutation(len(train_points))[:_N_REFERENCE]
        beyond.threshold = np.quantile(_mean_nearest_distance(beyond.tree, train_points[reference], k,
                                                              skip_first=True), quantile)
        return beyond

    def __call__(self, points, workers=1):
        usable = np.all(np.isfinite(points), axis=1)
        flagged = np.zeros(len(points), dtype=bool)
        if usable.any():
            flagged[usable] = _mean_nearest_distance(self.tree, points[usable], self.k, workers=workers) > self.threshold
        return flagged


def beyond_training(train_points, points, rng, k=K, quantile=QUANTILE):
    """True where a point is farther from the training points than ``quantile`` of the training points are.

    Parameters
    ----------
    train_points, points : ndarray, shape (n, n_dimensions)
        Rows with a NaN are never flagged (and do not count as training points).
    rng : numpy.random.Generator
        Draws the training points whose own distances set the threshold.
    """
    return _Beyond.fitted(train_points, rng, k, quantile)(points)


class _SpectralSpace:
    """The training flux's leading principal components (flux standardised per pixel, masked pixels
    at the mean; not whitened, so that the components the spectra vary most along weigh most:
    whitened, the faint components, mostly noise, would drown a star that lies beyond the training
    set along the first few)."""

    def __init__(self, mean, std, basis):
        self.mean, self.std, self.basis = mean, std, basis

    @classmethod
    def fitted(cls, train_spectra, n_components=N_COMPONENTS):
        """The space of the training spectra, and their coordinates in it."""
        train_flux = train_spectra.masked_flux().astype(float)
        mean, std = np.nanmean(train_flux, axis=0), np.nanstd(train_flux, axis=0)
        std[~(std > 0)] = 1.0
        space = cls(mean, std, None)
        standard = space._standard(train_spectra)
        # the leading right singular vectors of the standardised flux, as the covariance's leading
        # eigenvectors: a tenth of the work of the SVD
        n_components = min(n_components, len(standard))  # no directions beyond the training stars'
        space.basis = np.linalg.eigh(standard.T @ standard)[1][:, ::-1][:, :n_components]
        return space, standard @ space.basis

    def _standard(self, spectra):
        return np.nan_to_num((spectra.masked_flux().astype(float) - self.mean) / self.std)

    def __call__(self, spectra):
        """Coordinates of ``spectra``, shape (n_stars, n_components)."""
        return self._standard(spectra) @ self.basis


class TrainingDomain:
    """The training set's side of the flags, computed once: its spectral space, its labels and the
    thresholds of both; :meth:`flags` then flags any number of stars (a survey, block by block).

    Parameters
    ----------
    train_spectra : Spectra
    train_labels : ndarray, shape (n_train, n_labels)
        Reference labels of the training stars (NaN where missing).
    seed : int
        Draws the training stars whose own distances set the thresholds.
    """

    def __init__(self, train_spectra, train_labels, seed):
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.space, train_coordinates = _SpectralSpace.fitted(train_spectra)
        self.label_mean, self.label_std = np.nanmean(train_labels, axis=0), np.nanstd(train_labels, axis=0)
        self.label_std[~(self.label_std > 0)] = 1.0
        self.spectrum_beyond = _Beyond.fitted(train_coordinates, rng)
        self.labels_beyond = _Beyond.fitted((train_labels - self.label_mean) / self.label_std, rng)

    def to_arrays(self):
        """The reference as arrays (for ``numpy.savez``; :meth:`from_arrays` rebuilds it): the spectral
        space, both neighbour tests' points and thresholds, and the seed and settings they were made with."""
        return {"space_mean": self.space.mean, "space_std": self.space.std, "space_basis": self.space.basis,
                "spectrum_points": self.spectrum_beyond.tree.data, "spectrum_threshold": self.spectrum_beyond.threshold,
                "label_mean": self.label_mean, "label_std": self.label_std, "label_points": self.labels_beyond.tree.data,
                "label_threshold": self.labels_beyond.threshold, "seed": self.seed, "settings": _settings()}

    @classmethod
    def from_arrays(cls, arrays):
        """The reference that :meth:`to_arrays` gave (its neighbour trees rebuilt: a fraction of a second).

        Raises
        ------
        ValueError
            The arrays were made with other settings of the flags (``K``, ``QUANTILE``, ...) than this version's.
        """
        settings = _settings()
        if not np.array_equal(arrays["settings"], settings):
            raise ValueError(f"made with other settings of the flags (K, QUANTILE, N_COMPONENTS, reference stars: "
                             f"{arrays['settings'].tolist()}, this version's {settings.tolist()})")
        reference = cls.__new__(cls)
        reference.seed = int(arrays["seed"])
        reference.space = _SpectralSpace(arrays["space_mean"], arrays["space_std"], arrays["space_basis"])
        reference.label_mean, reference.label_std = arrays["label_mean"], arrays["label_std"]
        reference.spectrum_beyond = _Beyond(arrays["spectrum_points"], arrays["spectrum_threshold"])
        reference.labels_beyond = _Beyond(arrays["label_points"], arrays["label_threshold"])
        return reference

    def flags(self, spectra, predicted, model_flags, workers=1):
        """The ``flags`` bits of each star of ``spectra`` with labels ``predicted`` and the model's
        own flags (``LabelTransferMethod.misfit_flags``)."""
        flags = FLAGS["spectrum"] * self.spectrum_beyond(self.space(spectra), workers)
        flags += FLAGS["labels"] * self.labels_beyond((predicted - self.label_mean) / self.label_std, workers)
        flags += FLAGS["model"] * np.asarray(model_flags, dtype=bool)
        return flags.astype(np.int64)


def _settings():
    """The flags' settings that a saved reference must share with this version."""
    return np.array([K, QUANTILE, N_COMPONENTS, _N_REFERENCE], dtype=float)


def domain_flags(train_spectra, train_labels, spectra, predicted, model_flags, seed):
    """The ``flags`` bits of each star of ``spectra`` with labels ``predicted`` and the model's own
    flags: ``TrainingDomain(train_spectra, train_labels, seed).flags(spectra, predicted, model_flags)``."""
    return TrainingDomain(train_spectra, train_labels, seed).flags(spectra, predicted, model_flags)


def ood_summary(predictions, labels, min_stars=10):
    """Per method and label: the fraction of test stars flagged (any bit, and each), and the robust
    scatter of the flagged and unflagged stars' residuals with their ratio (NaN under ``min_stars``).

    Parameters
    ----------
    predictions : dict of str to pandas.DataFrame
        Each method's prediction table, with ``flags``.
    labels : sequence of str
    """
    rows = []
    for method, table in predictions.items():
        flags = table["flags"].to_numpy()
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
