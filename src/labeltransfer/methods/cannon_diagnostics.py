"""What The Cannon's generative model says about a spectrum: the information it holds about its
labels, and where the model does not match it.

The Fisher matrix of a star is the sum over pixels of ``J_k J_l / variance``, with ``J`` the
derivatives of the model flux with respect to the labels and the variance the flux error's
plus the model's intrinsic scatter; its inverse bounds the covariance of any unbiased estimate
of the labels from that spectrum (Cramer-Rao), given the model and the extra labels (colours)
held at their observed values. The normalised residual of a pixel is (flux - model) / sqrt(flux
error^2 + s^2) at the star's labels, in the modelled flux space.
"""

import numpy as np

from .cannon_solver import model_to_flux

__all__ = ["CannonDiagnostics"]


class CannonDiagnostics:
    """The Fisher information of spectra and their residuals from the model (a mixin of ``TheCannon``)."""

    def _by_regime(self, spectra, labels):
        """(rows, regime, standardised labels with the extra labels) of the stars of each regime model,
        the regime whose core interval holds the star's ``labels``."""
        extra = self._extra(spectra)
        regime = np.zeros(len(spectra), dtype=int)
        for r in range(1, len(self.theta_)):
            regime[self._in_regime(r, labels)] = r
        for r in range(len(self.theta_)):
            rows = np.flatnonzero(regime == r)
            yield rows, r, (np.hstack([labels[rows], extra[rows]]) - self.offset_[r]) / self.scale_[r]

    def fitted_labels_and_misfit(self, spectra):
        """Each star's best-fitting labels, their formal (uncalibrated) sigma and the reduced
        chi-square of its best model."""
        return self._best_fits(spectra)[:3]

    def misfit_baseline(self, reference_spectra):
        """The reduced chi-square that the model beats for 99% of up to 1,000 ``reference_spectra``
        (training stars, drawn with the model's seed) at their own best-fitting labels."""
        rows = np.random.default_rng(self.random_state).permutation(len(reference_spectra))[:1000]
        reference = reference_spectra.subset(rows)
        return float(np.nanquantile(self._reduced_chi2(reference, self._best_fits(reference)[0]), 0.99))

    def misfit_flags(self, spectra, labels, sigma, misfit_baseline):
        """Stars that the model at their predicted ``labels`` fits worse (reduced chi-square) than
        the threshold ``misfit_baseline`` (:meth:`misfit_baseline` of training stars)."""
        return self._reduced_chi2(spectra, labels) > misfit_baseline

    def _reduced_chi2(self, spectra, labels):
        """Chi-square of each star's spectrum against the model at ``labels``, per degree of freedom."""
        _, residual = self.normalised_residuals(spectra, labels)
        n_pixels = np.sum(np.isfinite(residual), axis=1)
        return np.nansum(residual ** 2, axis=1) / np.maximum(n_pixels - len(self.label_names_), 1)

    def model_flux(self, model_values):
        """Model values of ``normalised_residuals`` in flux units (the flux transform undone)."""
        return model_to_flux(model_values, self.flux_transform,
                             self.softening_ if self.flux_transform == "asinh" else None)

    def normalised_residuals(self, spectra, labels):
        """The model flux at ``labels`` and (flux - model) / sqrt(sigma^2 + s^2), both in the modelled
        flux space, shape (n_stars, n_pixels) each (NaN on masked pixels)."""
        flux, var = self._transformed(spectra)
        model = np.empty_like(flux)
        residual = np.empty_like(flux)
        for rows, r, x in self._by_regime(spectra, labels):
            model[rows] = self._vectorizer()(x) @ self.theta_[r].T
            with np.errstate(invalid="ignore"):
                residual[rows] = (flux[rows] - model[rows]) / np.sqrt(var[rows] + self.scatter_[r] ** 2)
        residual[~np.isfinite(var)] = np.nan
        return model, residual

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
        fisher : ndarray, shape (n_stars, n_labels, n_labels)
            The Fisher matrices: the sum over pixels of ``J_k J_l / variance``.
        per_pixel : ndarray, shape (n_stars, n_pixels, n_labels)
            Each pixel's ``J_k^2 / variance``: its part of the diagonal.
        """
        n_labels = len(self.label_names_)
        fisher = np.zeros((len(spectra), n_labels, n_labels))
        per_pixel = np.zeros((len(spectra), len(spectra.wavelength), n_labels))
        for rows, slope, weight, _ in self._slopes(spectra, labels, noise_factor):
            fisher[rows] = np.einsum("npk,np,npl->nkl", slope, weight, slope)
            per_pixel[rows] = slope ** 2 * weight[:, :, None]
        return fisher, per_pixel

    influence_kind = "gradient x flux error"

    def flux_influence(self, spectra):
        """How far each pixel moves each label: the derivative of the best-fitting labels with
        respect to the pixel's flux times its flux error, shape (n_stars, n_pixels, n_labels).

        At the best fit the labels respond to the (modelled) flux as ``(J^T W J)^-1 J^T W``, the
        weighted least-squares estimator of the linearised model: exact where the model fits the
        spectrum, it leaves out the model's curvature times the residuals (a few per cent on the
        noisy spectra of the tests). A pixel's flux error in the modelled space is
        ``sqrt(variance)``, so the flux transform needs no chain rule. Masked pixels move
        nothing; a star whose fit failed is NaN.
        """
        self._check_fitted()
        labels = self._best_fits(spectra)[0]
        influence = np.full((len(spectra), len(spectra.wavelength), len(self.label_names_)), np.nan)
        fitted = np.flatnonzero(np.all(np.isfinite(labels), axis=1))
        for rows, slope, weight, variance in self._slopes(spectra.subset(fitted), labels[fitted]):
            fisher = np.einsum("npk,np,npl->nkl", slope, weight, slope)
            response = np.einsum("nkl,npl,np->npk", np.linalg.pinv(fisher), slope, weight)
            influence[fitted[rows]] = response * np.sqrt(np.where(weight > 0, variance, 0.0))[:, :, None]
        return influence

    def _slopes(self, spectra, labels, noise_factor=1.0):
        """Per regime model: (rows, the model's derivatives with respect to the labels in label units
        (n, n_pixels, n_labels), the pixels' weights 1 / variance (0 where masked), the flux
        variances (noise_factor * sigma_flux)^2 in the modelled space)."""
        n_labels = len(self.label_names_)
        _, var = self._transformed(spectra)
        factor = np.broadcast_to(np.asarray(noise_factor, dtype=float), (len(spectra),))[:, None]
        for rows, r, x in self._by_regime(spectra, labels):
            slope = np.einsum("pt,ntk->npk", self.theta_[r], self._vectorizer().jacobian(x)[:, :, :n_labels])
            slope /= self.scale_[r, :n_labels]
            variance = factor[rows] ** 2 * var[rows]
            total = variance + self.scatter_[r] ** 2
            yield rows, slope, np.where(np.isfinite(total), 1.0 / total, 0.0), variance
