"""The information a spectrum holds about its labels, by The Cannon's generative model.

The Fisher matrix of a star is the sum over pixels of ``J_k J_l / variance``, with ``J`` the
derivatives of the model flux with respect to the labels and the variance the flux error's
plus the model's intrinsic scatter; its inverse bounds the covariance of any unbiased estimate
of the labels from that spectrum (Cramer-Rao), given the model and the extra labels (colours)
held at their observed values.
"""

import numpy as np

__all__ = ["LabelInformation"]


class LabelInformation:
    """What The Cannon adds to compute the Fisher information of spectra (a mixin of ``TheCannon``)."""

    def label_information(self, spectra, labels, noise_factor=1.0):
        """Fisher information of each star's spectrum about its labels, pixel by pixel.

        The model's derivatives with respect to the labels at ``labels`` (the model of the
        regime whose core interval holds the star; extra labels at their observed values),
        against each pixel's variance ``(noise_factor * sigma_flux)^2 + s^2`` in the modelled
        space, pixels taken as independent.

        Parameters
        ----------
        spectra : Spectra
        labels : ndarray, shape (n_stars, n_labels)
            The labels at which the information is evaluated (the reference labels, for a bound).
        noise_factor : float or ndarray of shape (n_stars,)
            Flux errors scaled by this (a star made noisier).

        Returns
        -------
        ndarray, shape (n_stars, n_pixels, n_labels, n_labels)
            Each pixel's ``J_k J_l / variance``; its sum over pixels is the Fisher matrix.
        """
        n_labels = len(self.label_names_)
        extra = self._extra(spectra)
        _, var = self._transformed(spectra)
        factor = np.broadcast_to(np.asarray(noise_factor, dtype=float), (len(spectra),))[:, None]
        regime = np.zeros(len(spectra), dtype=int)
        for r in range(1, len(self.theta_)):
            regime[self._in_regime(r, labels)] = r
        information = np.zeros((len(spectra), var.shape[1], n_labels, n_labels))
        for r in range(len(self.theta_)):
            rows = np.flatnonzero(regime == r)
            x = (np.hstack([labels[rows], extra[rows]]) - self.offset_[r]) / self.scale_[r]
            slope = np.einsum("pt,ntk->npk", self.theta_[r], self._vectorizer().jacobian(x)[:, :, :n_labels])
            slope /= self.scale_[r, :n_labels]
            variance = factor[rows] ** 2 * var[rows] + self.scatter_[r] ** 2
            weight = np.where(np.isfinite(variance), 1.0 / variance, 0.0)
            information[rows] = slope[:, :, :, None] * slope[:, :, None, :] * weight[:, :, None, None]
        return information
