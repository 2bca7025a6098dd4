"""Out-of-distribution flags: the test stars that lie outside what a model was trained on.

Each prediction table carries ``flags``, the sum of the bits a star has:

- ``spectrum`` (1): the spectrum's mean distance to its ``K`` nearest training spectra, in the
  leading ``N_COMPONENTS`` principal components of the standardised training flux, beyond the
  ``QUANTILE`` of the training stars' own distances (each to the other training stars);
- ``labels`` (2): the predicted labels where the training set has (almost) no stars: their mean
  distance to the ``K`` nearest training stars' reference labels (standardised) beyond the
  ``QUANTILE`` of the same distance of the method's own predictions of the validation stars. The
  threshold is the method's: an imprecise method's predictions of stars like the training stars
  lie farther from the training labels, and are not flagged for that (1% are, by construction);
- ``model`` (4): what the model itself says (``LabelTransferMethod.misfit_flags``): The
  Cannon's fit of the spectrum worse than that of 99% of training stars; an ensemble's members
  disagreeing by more than the calibrated sigma. Methods without such a measure never set it.

A flag is a warning, not a verdict: 1% of stars like the training stars are flagged by each
of the first two bits by construction. Whether the flags find the stars the training set does
not hold is checked on the test stars whose *reference* labels lie beyond the training stars'
(the same distance, beyond the ``QUANTILE`` of the training stars' own:
:meth:`TrainingDomain.reference_beyond`, the prediction table's ``reference_beyond_training``):
:func:`ood_summary` gives the fractions flagged of those and of the others.
"""

import copy

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..data.predictions import REFERENCE_BEYOND
from ..evaluation.metrics import robust_scatter

__all__ = ["FLAGS", "SURVEY_FLAGS", "SURVEY_FLAG_MEANINGS", "K", "N_COMPONENTS", "QUANTILE", "beyond_training",
           "TrainingDomain", "ood_summary"]

#: The bit of each flag.
FLAGS = {"spectrum": 1, "labels": 2, "model": 4}
#: The bits of a survey catalogue's ``flags``: these flags (0 where no training set was given), a
#: source with one usable XP band only, and a spectrum with pixels whose flux error was not positive.
SURVEY_FLAGS = {**FLAGS, "missing_band": 8, "nonpositive_error": 16}
#: Neighbours whose mean distance measures how far a star is from the training set.
K = 5
#: Principal components of the spectral space.
N_COMPONENTS = 20
#: Quantile of the reference stars' distances (the training stars' own; for the label bit, the
#: method's predictions of the validation stars) beyond which a star is flagged.
QUANTILE = 0.99
#: What each bit of :data:`SURVEY_FLAGS` means (written into every catalogue).
SURVEY_FLAG_MEANINGS = {
    "spectrum": f"the spectrum lies beyond the training spectra (mean distance to its {K} nearest in their "
                f"principal components beyond the {100 * QUANTILE:g}th percentile of the training stars')",
    "labels": f"the predicted labels lie where the training set has (almost) no stars (mean distance to the "
              f"{K} nearest training stars' labels beyond the {100 * QUANTILE:g}th percentile of the model's own "
              "predictions of the validation stars: 1% of stars like the training stars are flagged)",
    "model": "the model's own misfit: The Cannon's fit worse than 99% of training stars', or an ensemble's "
             "members disagreeing by more than the calibrated sigma",
    "missing_band": "one XP band missing, or unusable (a NaN, infinite or overflowing coefficient, error or "
                    "correlation): labelled from the other band's pixels alone",
    "nonpositive_error": "pixels with a finite flux and a flux_error <= 0 (no measurement) were left out",
}
#: Stars whose distances set a threshold (a random subset of the training or validation stars).
_N_REFERENCE = 4000
#: What the saved label threshold means: 2, the quantile of the method's validation predictions'
#: distances (1, before: of the training stars' own, which files without this number hold).
_LABEL_THRESHOLD_FORMAT = 2


def _mean_nearest_distance(tree, query, k, skip_first=False, workers=1):
    """Mean Euclidean distance of each query point to its ``k`` nearest points of the KD-tree
    (``skip_first``: the query points are in the tree, their zero distance to themselves left out)."""
    k = min(k + skip_first, tree.n)
    distances = tree.query(query, k=k, workers=workers)[0].reshape(len(query), k)
    return distances[:, int(skip_first):].mean(axis=1)


def _finite_rows(points):
    return points[np.all(np.isfinite(points), axis=1)]


class _Beyond:
    """Whether points lie farther from the training points (finite ones) than ``threshold``, in
    the mean distance to their ``k`` nearest."""

    def __init__(self, train_points, threshold, k=K):
        self.tree, self.threshold, self.k = cKDTree(train_points), float(threshold), k

    @classmethod
    def fitted(cls, train_points, rng, k=K, quantile=QUANTILE):
        """The test whose threshold is ``quantile`` of the training points' own distances (of up to
        ``_N_REFERENCE`` of them, drawn with ``rng``); rows with a NaN are left out."""
        train_points = _finite_rows(train_points)
        beyond = cls(train_points, np.inf, k)
        reference = rng.permutation(len(train_points))[:_N_REFERENCE]
        beyond.threshold = np.quantile(_mean_nearest_distance(beyond.tree, train_points[reference], k,
                                                              skip_first=True), quantile)
        return beyond

    def with_threshold_of(self, points, rng, quantile=QUANTILE):
        """The same training points, the threshold ``quantile`` of the distances of ``points`` (stars
        not among the training points; up to ``_N_REFERENCE`` of those without a NaN, drawn with ``rng``).

        Raises
        ------
        ValueError
            No point without a NaN.
        """
        points = _finite_rows(points)
        if not len(points):
            raise ValueError("no reference point without a NaN: the threshold cannot be set")
        beyond = copy.copy(self)  # the tree shared: it is never changed
        reference = points[rng.permutation(len(points))[:_N_REFERENCE]]
        beyond.threshold = float(np.quantile(_mean_nearest_distance(self.tree, reference, self.k), quantile))
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
    """One method's training side of the flags, computed once: the training set's spectral space, its
    labels, and the thresholds; :meth:`flags` then flags any number of stars (a survey, block by block).

    Parameters
    ----------
    train_spectra : Spectra
    train_labels : ndarray, shape (n_train, n_labels)
        Reference labels of the training stars (NaN where missing; such a star is no neighbour).
    validation_predictions : ndarray, shape (n_validation, n_labels)
        The method's predicted labels of the validation stars (rows with a NaN left out): the
        ``QUANTILE`` of their distances to the training labels is the label bit's threshold.
    seed : int
        Draws the training and validation stars whose distances set the thresholds.
    """

    def __init__(self, train_spectra, train_labels, validation_predictions, seed):
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.space, train_coordinates = _SpectralSpace.fitted(train_spectra)
        self.label_mean, self.label_std = np.nanmean(train_labels, axis=0), np.nanstd(train_labels, axis=0)
        self.label_std[~(self.label_std > 0)] = 1.0
        self.spectrum_beyond = _Beyond.fitted(train_coordinates, rng)
        self.training_labels_beyond = _Beyond.fitted(self._standard(train_labels), rng)
        self.predicted_beyond = self._predicted_beyond(validation_predictions)

    def _standard(self, labels):
        return (labels - self.label_mean) / self.label_std

    def _predicted_beyond(self, validation_predictions):
        """The label bit's test: the training labels, the threshold of the method's validation predictions."""
        return self.training_labels_beyond.with_threshold_of(self._standard(validation_predictions),
                                                             np.random.default_rng(self.seed))

    def for_predictions(self, validation_predictions):
        """This domain with the label bit's threshold of another method's ``validation_predictions`` (the
        spectral space and the training stars' thresholds shared): what ``TrainingDomain(train_spectra,
        train_labels, validation_predictions, seed)`` gives, without computing them again."""
        domain = copy.copy(self)
        domain.predicted_beyond = self._predicted_beyond(validation_predictions)
        return domain

    def to_arrays(self):
        """The domain as arrays (for ``numpy.savez``; :meth:`from_arrays` rebuilds it): the spectral
        space, the neighbour tests' points and thresholds, and the seed and settings they were made with."""
        return {"space_mean": self.space.mean, "space_std": self.space.std, "space_basis": self.space.basis,
                "spectrum_points": self.spectrum_beyond.tree.data, "spectrum_threshold": self.spectrum_beyond.threshold,
                "label_mean": self.label_mean, "label_std": self.label_std,
                "label_points": self.training_labels_beyond.tree.data,
                "label_threshold": self.predicted_beyond.threshold,
                "training_label_threshold": self.training_labels_beyond.threshold,
                "seed": self.seed, "settings": _settings()}

    @classmethod
    def from_arrays(cls, arrays):
        """The domain that :meth:`to_arrays` gave (its neighbour trees rebuilt: a fraction of a second).

        Raises
        ------
        ValueError
            The arrays were made by a version whose label threshold was the training stars' own, or
            with other settings of the flags (``K``, ``QUANTILE``, ...) than this version's.
        """
        settings, found = _settings(), arrays["settings"]
        if len(found) < len(settings):
            raise ValueError("made by an older version, whose label bit's threshold is the training stars' own "
                             "distance, not that of the method's predictions of the validation stars")
        if not np.array_equal(found, settings):
            raise ValueError(f"made with other settings of the flags (K, QUANTILE, N_COMPONENTS, reference stars, "
                             f"label threshold format: {found.tolist()}, this version's {settings.tolist()})")
        domain = cls.__new__(cls)
        domain.seed = int(arrays["seed"])
        domain.space = _SpectralSpace(arrays["space_mean"], arrays["space_std"], arrays["space_basis"])
        domain.label_mean, domain.label_std = arrays["label_mean"], arrays["label_std"]
        domain.spectrum_beyond = _Beyond(arrays["spectrum_points"], arrays["spectrum_threshold"])
        domain.training_labels_beyond = _Beyond(arrays["label_points"], arrays["training_label_threshold"])
        domain.predicted_beyond = copy.copy(domain.training_labels_beyond)
        domain.predicted_beyond.threshold = float(arrays["label_threshold"])
        return domain

    def flags(self, spectra, predicted, model_flags, workers=1):
        """The ``flags`` bits of each star of ``spectra`` with labels ``predicted`` (by the method whose
        validation predictions set the label bit's threshold) and the model's own flags
        (``LabelTransferMethod.misfit_flags``)."""
        flags = FLAGS["spectrum"] * self.spectrum_beyond(self.space(spectra), workers)
        flags += FLAGS["labels"] * self.predicted_beyond(self._standard(predicted), workers)
        flags += FLAGS["model"] * np.asarray(model_flags, dtype=bool)
        return flags.astype(np.int64)

    def reference_beyond(self, reference_labels, workers=1):
        """Whether stars' reference (true) labels lie beyond the training labels, by the training stars'
        own threshold: 1.0 beyond, 0.0 within, NaN where a label is missing (not judged).

        Parameters
        ----------
        reference_labels : ndarray, shape (n_stars, n_labels)

        Returns
        -------
        ndarray of float, shape (n_stars,)
        """
        beyond = self.training_labels_beyond(self._standard(reference_labels), workers).astype(float)
        beyond[~np.all(np.isfinite(reference_labels), axis=1)] = np.nan
        return beyond


def _settings():
    """The flags' settings that a saved domain must share with this version."""
    return np.array([K, QUANTILE, N_COMPONENTS, _N_REFERENCE, _LABEL_THRESHOLD_FORMAT], dtype=float)


def _fractions_flagged(flags, stars):
    """The number of ``stars`` (a boolean mask), and the fraction of them with the label bit and with any bit
    (NaN for none)."""
    n = int(stars.sum())
    if not n:
        return n, np.nan, np.nan
    return n, float(np.mean((flags[stars] & FLAGS["labels"]) > 0)), float(np.mean(flags[stars] > 0))


def ood_summary(predictions, labels, min_stars=10):
    """Per method and label: the fraction of test stars flagged (any bit, and each); the robust scatter
    of the flagged and unflagged stars' residuals with their ratio (NaN under ``min_stars``); and, the
    check of the flags, the test stars whose reference labels lie beyond the training set's and those
    within (``n_reference_beyond``, ``n_reference_within``), with the fractions of each that the label
    bit flags (``labels_fraction_beyond``, ``labels_fraction_within``) and that any bit flags
    (``flagged_fraction_beyond``, ``flagged_fraction_within``; NaN where there are no such stars).

    Parameters
    ----------
    predictions : dict of str to pandas.DataFrame
        Each method's prediction table, with ``flags`` and ``reference_beyond_training``
        (:data:`labeltransfer.data.predictions.REFERENCE_BEYOND`).
    labels : sequence of str

    Raises
    ------
    KeyError
        A table without either column (made by an older version: predict again).
    """
    rows = []
    for method, table in predictions.items():
        missing = [column for column in ("flags", REFERENCE_BEYOND) if column not in table.columns]
        if missing:
            raise KeyError(f"the predictions of {method} have no {', '.join(missing)}: made by an older version, "
                           "predict again (the predict_method rule)")
        flags = table["flags"].to_numpy()
        flagged = flags > 0
        fractions = {f"{name}_fraction": float(np.mean((flags & bit) > 0)) for name, bit in FLAGS.items()}
        reference_beyond = table[REFERENCE_BEYOND].to_numpy(dtype=float)
        check = {}
        for where, stars in (("beyond", reference_beyond == 1), ("within", reference_beyond == 0)):
            n, labels_fraction, any_fraction = _fractions_flagged(flags, stars)
            check |= {f"n_reference_{where}": n, f"labels_fraction_{where}": labels_fraction,
                      f"flagged_fraction_{where}": any_fraction}
        for label in labels:
            residual = (table[label] - table[f"{label}_ref"]).to_numpy()
            known = np.isfinite(residual)
            inside, outside = residual[known & ~flagged], residual[known & flagged]
            scatter_in = robust_scatter(inside) if inside.size >= min_stars else np.nan
            scatter_out = robust_scatter(outside) if outside.size >= min_stars else np.nan
            rows.append({"method": method, "label": label, "n": int(known.sum()), "n_flagged": int(outside.size),
                         "flagged_fraction": float(np.mean(flagged)), **fractions,
                         "scatter_flagged": scatter_out, "scatter_unflagged": scatter_in,
                         "ratio": scatter_out / scatter_in, **check})
    return pd.DataFrame(rows)
