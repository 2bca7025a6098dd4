"""A data-driven Payne (Ting et al. 2019): a neural emulator of the spectrum, and each star fitted by it.

Training: the emulator (:mod:`labeltransfer.methods.emulator`) maps a star's labels, its
extinction A_K where the run gives it, and its ``extra_labels`` (auxiliary features such as colours,
held at their observed values as The Cannon's are) where the settings name any, to the normalised flux on every pixel, with a per-pixel
intrinsic scatter; it is trained on the training stars with every parameter known, by maximum
likelihood with their flux errors and their labels' errors, and stops early on the validation
stars' likelihood. Its intrinsic scatter is then measured again about the model at the best fits of
training stars (their reference parameters' errors beyond the catalogue's are then no misfit), so
that each pixel's residual over its variance has the median a Gaussian's has.

Labelling: each star's parameters maximise its likelihood, the flux errors plus the intrinsic
scatter on its unmasked pixels (a missing XP band is masked pixels), optionally times a Gaussian
prior with the training parameters' mean and covariance (``prior``). The fit is a Levenberg-Marquardt
iteration on all stars at once in torch (CPU threads or a GPU), started from a first guess (a ridge
regression quadratic in the flux's leading principal components,
:class:`labeltransfer.methods.cannon_solver.FirstGuess`), and held to the training parameters' range
(widened by a tenth). Against local minima: a star whose reduced chi-square stays above
``restart_chi2`` is fitted again from ``restarts`` starting points spread over the training
parameters (the centres of as many k-means clusters), and keeps the best fit.
The extra labels are no parameters: they are held at the star's observed values (a star missing one
takes, for it, the first guess's regression of it from the flux), and the labels, their sigma, the
parameter names, the prior, the bounds and the restarts are those of the labels and A_K alone.
Its covariance is the inverse curvature at the optimum (``J^T W J`` plus the prior's precision),
calibrated on the validation stars as every method's; its reduced chi-square, beyond what 99% of
training stars reach, flags a spectrum the model does not describe (:meth:`misfit_flags`).
"""

import logging
import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from .base import LabelTransferMethod, TooFewStarsError
from .cannon_solver import FirstGuess
from .emulator import Emulator, maximum_likelihood_scatter, median_matched_scatter, train_emulator
from .mixture import GaussianMixture

__all__ = ["Payne"]

log = logging.getLogger(__name__)

#: The extinction's name among the fitted parameters.
EXTINCTION = "a_k"
#: Training stars whose best fits give the model's misfit (:meth:`Payne._fit_misfit`).
SCATTER_STARS = 2000
#: Stars per batch of the per-star fit (bounds the memory of the Jacobians: 4096 x 5 x 343 floats).
_FIT_BATCH = 4096
_PRIORS = ("none", "gaussian", "mixture")
#: How the misfit\'s per-pixel scatter is measured (``misfit_scatter``).
_MISFIT_SCATTERS = ("median", "mean")
_STATE = ("parameter_mean", "parameter_scale", "lower", "upper", "prior_means", "prior_precisions", "prior_log_weights",
          "anchors", "fits_extinction", "misfit_modes", "misfit_scatter")
#: The extra labels' standardisation: kept only by a model with extra labels (a file without them loads as before).
_EXTRA_STATE = ("extra_mean", "extra_scale")


class Payne(LabelTransferMethod):
    """A neural emulator of the spectrum; each star's labels (and extinction) by maximum likelihood.

    Parameters
    ----------
    hidden_sizes : list of int
        The emulator's hidden layers.
    learning_rate, batch_size, weight_decay : float, int, float
        Adam's settings for the emulator.
    epochs, patience : int
        At most ``epochs`` epochs; stop after ``patience`` without a better validation likelihood.
    extinction : bool
        Model the extinction A_K as a parameter (trained on the run's ``extinction`` values, fitted
        with the labels); ignored where ``fit`` is given none.
    extra_labels : list of str
        Auxiliary features (for example colours; the feature set must hold them) that the emulator also
        takes as inputs: the training stars' observed values in training, each star's observed values
        held fixed (not fitted) in labelling, their errors taken as zero in both. A star missing one
        is held at the first guess's regression of it from the flux, and its sigma leaves out that
        regression's error (The Cannon fits a missing extra label instead). They are no parameters
        (``parameter_names_``) and no labels.
    prior : {"none", "gaussian", "mixture"}
        The fit's prior on the parameters: none (maximum likelihood), a Gaussian with the training
        parameters' mean and covariance, or a Gaussian mixture of ``prior_components`` fitted to them
        (the population: the giant branch and the dwarfs apart).
    prior_components : int
        Components of the mixture prior.
    misfit_modes : int
        The model's misfit is a Gaussian with this many modes shared by the pixels (the leading
        eigenvectors of the training stars' residual covariance at their best fits, beyond their
        noise) plus an intrinsic scatter per pixel; 0: the scatter alone, every pixel's misfit
        independent of the others'.
    misfit_scatter : {"median", "mean"}
        How the per-pixel scatter is measured from the training stars' residuals at their best fits:
        "median", the scatter at which the median star's residual over its variance is a Gaussian's
        (:func:`~labeltransfer.methods.emulator.median_matched_scatter`); "mean", the mean squared
        residual less the noise (which the worst-fitted stars pull up).
    guess_components : int
        Principal components of the flux in the first guess's regression.
    max_iter : int
        Levenberg-Marquardt iterations per start.
    restarts : int
        Starting points (centres of k-means clusters of the training parameters) from which a poorly
        fitted star is fitted again (0: none).
    restart_chi2 : float
        The reduced chi-square above which a star is fitted again from the ``restarts``.
    device : str
        ``"cpu"`` or ``"cuda"`` (the workflow sets the job's).
    threads : int
        CPU threads (the workflow sets the job's).
    random_state : int
        Seeds the emulator's initial weights and batches, and the restarts' clusters.
    """

    method_type = "payne"
    influence_kind = "gradient x flux error"

    def __init__(self, *, hidden_sizes=(256, 256), learning_rate=2e-3, batch_size=512, weight_decay=0.0,
                 epochs=150, patience=20, extinction=True, extra_labels=(), prior="mixture", prior_components=16,
                 misfit_modes=0, misfit_scatter="median", guess_components=20, max_iter=10, restarts=4,
                 restart_chi2=6.0, device="cpu", threads=1, random_state=0):
        self.hidden_sizes = list(hidden_sizes)
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.patience = patience
        self.extinction = extinction
        self.extra_labels = list(extra_labels)
        self.prior = prior
        self.prior_components = prior_components
        self.misfit_modes = misfit_modes
        self.misfit_scatter = misfit_scatter
        self.guess_components = guess_components
        self.max_iter = max_iter
        self.restarts = restarts
        self.restart_chi2 = restart_chi2
        self.device = device
        self.threads = threads
        self.random_state = random_state

    def fit(self, spectra, labels, label_err, label_names, validation=None, extinction=None):
        """Fit as :meth:`LabelTransferMethod.fit`; ``extinction`` is a pair of arrays, the training and the
        validation stars' A_K (mag, NaN where unknown), modelled where the ``extinction`` setting asks."""
        self._given_extinction = extinction
        try:
            return super().fit(spectra, labels, label_err, label_names, validation=validation)
        finally:
            del self._given_extinction

    # ------------------------------------------------------------------ training
    def _fit(self, spectra, labels, label_err, validation):
        if self.prior not in _PRIORS:
            raise ValueError(f"prior must be one of {_PRIORS}, got {self.prior!r}")
        if self.misfit_scatter not in _MISFIT_SCATTERS:
            raise ValueError(f"misfit_scatter must be one of {_MISFIT_SCATTERS}, got {self.misfit_scatter!r}")
        torch.set_num_threads(self.threads)
        torch.manual_seed(self.random_state)
        self.fits_extinction_ = np.array(self.extinction and self._given_extinction is not None)
        train_extinction, validation_extinction = self._given_extinction or (None, None)
        parameters, errors = self._parameters(labels, label_err, train_extinction)
        known, inputs, input_errors = self._known_inputs(parameters, errors, spectra)
        if len(known) < 10 * (inputs.shape[1] + 1):
            raise TooFewStarsError(f"Payne: {len(known)} training stars with every parameter and extra label known")
        log.info("Payne: emulator of %s trained on the %d of %d training stars with every one known",
                 [*self.parameter_names_, *self.extra_labels], len(known), len(parameters))
        train, k = spectra.subset(known), parameters.shape[1]
        mean, scale = inputs.mean(axis=0), inputs.std(axis=0)
        scale[~(scale > 0)] = 1.0
        self.parameter_mean_, self.parameter_scale_ = mean[:k], scale[:k]
        self.extra_mean_, self.extra_scale_ = mean[k:], scale[k:]
        standard, standard_errors = self._standard_inputs(inputs, input_errors)
        x = standard[:, :k]
        margin = 0.1 * (x.max(axis=0) - x.min(axis=0))
        self.lower_, self.upper_ = x.min(axis=0) - margin, x.max(axis=0) + margin
        self._fit_prior(x)
        flux = np.where(np.isfinite(train.flux_error), train.flux, np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a pixel masked in every star: all NaN
            centre, spread = np.nanmedian(flux, axis=0), np.nanstd(flux, axis=0)
        self.emulator_ = Emulator(inputs.shape[1], self.hidden_sizes, np.nan_to_num(centre, nan=1.0),
                                  np.where(spread > 0, spread, 1.0))
        self.emulator_.to(self.device)
        held_out = self._held_out_tensors(validation, validation_extinction)
        self.history_ = train_emulator(
            self.emulator_, self._tensors(standard, standard_errors, train), held_out,
            learning_rate=self.learning_rate, batch_size=self.batch_size, weight_decay=self.weight_decay,
            epochs=self.epochs, patience=self.patience,
            generator=torch.Generator().manual_seed(self.random_state))
        self.emulator_.eval()
        self.anchors_ = _cluster_centres(x, self.restarts, np.random.default_rng(self.random_state))
        self._reset_misfit()
        self.guess_ = FirstGuess.fit(train.flux, self._variance(train), np.empty((len(x), 0)), standard,
                                     self.guess_components)
        self._fit_misfit(train.subset(np.random.default_rng(self.random_state).permutation(len(x))[:SCATTER_STARS]))

    def _fit_misfit(self, stars, rounds=2):
        """The model's misfit about the spectra of ``stars`` (training stars) at their best fits (each star's
        residuals scaled by ``n_pixels / (n_pixels - k)`` for its ``k`` fitted parameters): ``misfit_modes``
        shared modes (the leading eigenvectors of the residuals' covariance less their noise's, scaled by
        the root of their eigenvalues) plus a scatter per pixel, the rest of the misfit that
        :func:`median_matched_scatter` gives (the median star described to its noise, whatever the few
        worst-fitted stars do; or the mean, as ``misfit_scatter`` says); starting from the emulator's
        own scatter, the stars are fitted anew with it, ``rounds`` times.

        The scatter the emulator is trained with is measured at the reference parameters, and so holds
        their errors beyond the catalogue's (a fit moves a star's parameters to absorb them): a star's
        chi-square at its best fit is measured against this misfit instead."""
        usable = np.isfinite(stars.flux_error) & np.isfinite(stars.flux)
        pairs = np.maximum(usable.T.astype(float) @ usable, 1.0)
        noise = np.sum(np.where(usable, stars.flux_error, 0.0) ** 2, axis=0) / np.diagonal(pairs)
        self._reset_misfit()
        prior, self.prior = self.prior, "none"  # the misfit at the likelihood's best fits: no prior's pull in it
        try:
            for _ in range(rounds):
                self._fit_misfit_once(stars, usable, pairs, noise)
        finally:
            self.prior = prior

    def _reset_misfit(self):
        """The misfit as the emulator was trained with: its own scatter, no shared modes."""
        self.misfit_modes_ = np.zeros((len(self.wavelength_), 0))
        self.misfit_scatter_ = self.emulator_.scatter().detach().cpu().double().numpy()

    def _fit_misfit_once(self, stars, usable, pairs, noise):
        """One round of :meth:`_fit_misfit`: ``usable`` pixels, the ``pairs`` of stars with both pixels of each
        pair usable, the stars' mean ``noise`` variance per pixel."""
        fits = self.fit_stars(stars)
        model, _ = self.model_flux(fits["parameters"], fits["extra"])
        dof = fits["n_pixels"] / np.maximum(fits["n_pixels"] - len(self.parameter_names_), 1)
        residual = np.where(usable, stars.flux - model, 0.0) * np.sqrt(dof)[:, None]
        covariance = residual.T @ residual / pairs - np.diag(noise)
        values, vectors = np.linalg.eigh(covariance)
        leading = np.argsort(values)[::-1][:self.misfit_modes]
        leading = leading[values[leading] > 0]
        self.misfit_modes_ = vectors[:, leading] * np.sqrt(values[leading])
        if self.misfit_scatter == "median":
            total = median_matched_scatter(residual, np.where(usable, stars.flux_error, 0.0) ** 2, usable)
        else:
            total = np.sqrt(np.clip(np.diagonal(covariance), 0.0, None))
        self.misfit_scatter_ = np.sqrt(np.clip(total ** 2 - np.sum(self.misfit_modes_ ** 2, axis=1), 0.0, None))

    def _fit_prior(self, x):
        """The prior's components in the standardised parameters ``x`` of the training stars: one (the
        Gaussian; ``none`` keeps it for the record, unused), or the mixture's."""
        if self.prior == "mixture":
            mixture = GaussianMixture(self.prior_components, random_state=self.random_state).fit(x)
            self.prior_means_ = mixture.centre_ + mixture.means_ * mixture.scale_
            self.prior_precisions_ = mixture.precisions()
            self.prior_log_weights_ = np.log(mixture.weights_)
        else:
            self.prior_means_ = x.mean(axis=0)[None]
            self.prior_precisions_ = np.linalg.inv(np.atleast_2d(np.cov(x, rowvar=False)))[None]
            self.prior_log_weights_ = np.zeros(1)

    @property
    def parameter_names_(self):
        """The fitted parameters: the labels, and ``a_k`` where the model fits the extinction."""
        return (*self.label_names_, *((EXTINCTION,) if self.fits_extinction_ else ()))

    def _parameters(self, labels, label_err, extinction):
        """The parameters (labels, A_K where modelled) and their errors (A_K's: none given, 0)."""
        if not self.fits_extinction_:
            return labels, label_err
        column = np.asarray(extinction, dtype=float)[:, None]
        return np.hstack([labels, column]), np.hstack([label_err, np.zeros_like(column)])

    def _known_inputs(self, parameters, errors, spectra):
        """The stars with every parameter and extra label known (rows), their emulator inputs (parameters then
        extra labels, physical units) and the inputs' errors (the extra labels': none given, 0)."""
        extra = self._extra(spectra)
        inputs = np.hstack([parameters, extra])
        known = np.flatnonzero(np.all(np.isfinite(inputs), axis=1))
        return known, inputs[known], np.hstack([errors, np.zeros_like(extra)])[known]

    def _extra(self, spectra):
        """The stars' extra labels as observed (NaN: missing), shape (n_stars, n_extra)."""
        if missing := [name for name in self.extra_labels if name not in spectra.aux_names]:
            raise KeyError(f"Payne: extra_labels {missing} are not among the spectra's auxiliary features "
                           f"{list(spectra.aux_names)}: give the method a feature_set that holds them")
        return spectra.select_aux(self.extra_labels).aux.astype(float)

    def _held_out_tensors(self, validation, extinction):
        """The validation stars with every parameter and extra label known, as the emulator's training tensors."""
        if validation is None:
            raise ValueError("Payne needs validation stars (early stopping of its emulator)")
        spectra, labels, label_err = validation
        parameters, errors = self._parameters(labels, label_err, extinction)
        known, inputs, input_errors = self._known_inputs(parameters, errors, spectra)
        return self._tensors(*self._standard_inputs(inputs, input_errors), spectra.subset(known))

    def _tensors(self, x, x_error, spectra):
        """(x, x_error, flux, variance, weight) on the device: masked pixels weigh 0."""
        usable = np.isfinite(spectra.flux_error) & np.isfinite(spectra.flux)
        arrays = (x, x_error, np.where(usable, spectra.flux, 0.0), np.where(usable, spectra.flux_error, 0.0) ** 2,
                  usable)
        return tuple(torch.as_tensor(a, dtype=torch.float32, device=self.device) for a in arrays)

    def _standard(self, parameters):
        return (parameters - self.parameter_mean_) / self.parameter_scale_

    def _standard_extra(self, extra):
        return (extra - self.extra_mean_) / self.extra_scale_

    def _standard_inputs(self, inputs, errors):
        """The emulator's inputs (parameters then extra labels, physical units) and their errors, standardised."""
        k = len(self.parameter_mean_)
        standard = np.hstack([self._standard(inputs[:, :k]), self._standard_extra(inputs[:, k:])])
        return standard, errors / np.concatenate([self.parameter_scale_, self.extra_scale_])

    def _held_extra(self, spectra, regressed):
        """The standardised extra labels each star's fit holds, shape (n_stars, n_extra): its observed ones,
        and where one is missing the first guess's ``regressed`` (standardised) value of it."""
        observed = self._standard_extra(self._extra(spectra))
        missing = ~np.isfinite(observed)
        if missing.any():
            log.warning("Payne: %d stars miss an extra label (%s); those are held at the first guess's regression "
                        "from the flux", missing.any(axis=1).sum(), ", ".join(self.extra_labels))
        return np.where(missing, regressed, observed)

    def _variance(self, spectra):
        """The fit's per-pixel variance less the misfit's shared modes: flux error squared plus the misfit's
        scatter squared (inf: masked)."""
        variance = spectra.flux_error.astype(float) ** 2 + self.misfit_scatter_ ** 2
        return np.where(np.isfinite(spectra.flux), variance, np.inf)

    def _network(self):
        """The emulator on the model's ``device`` (a job may have set another since it was trained or read)."""
        return self.emulator_.to(self.device)

    @property
    def intrinsic_scatter_(self):
        """The model's misfit per pixel (its shared modes' and its own scatter's, in quadrature), shape (n_pixels,)."""
        return np.sqrt(self.misfit_scatter_ ** 2 + np.sum(self.misfit_modes_ ** 2, axis=1))

    # ------------------------------------------------------------------ the model
    def model_flux(self, parameters, extra=None):
        """The model's flux and its derivatives at ``parameters`` (n, k) in physical units, in the order of
        ``parameter_names_``, with the extra labels ``extra`` (n, n_extra) held (physical units; required
        where the model has extra labels: :meth:`fit_stars`' ``extra``): flux (n, n_pixels) and
        ``d flux / d parameter`` (n, n_pixels, k)."""
        self._check_fitted()
        parameters = np.asarray(parameters, dtype=float)
        if extra is None and self.extra_labels:
            raise ValueError(f"this Payne's emulator also takes the extra labels {self.extra_labels}: pass each "
                             "star's as extra= (fit_stars' 'extra')")
        held = np.empty((len(parameters), 0)) if extra is None else self._standard_extra(np.asarray(extra, dtype=float))
        x = torch.as_tensor(np.hstack([self._standard(parameters), held]), dtype=torch.float32, device=self.device)
        with torch.no_grad():
            flux, jacobian = self._network().forward_with_jacobian(x, parameters.shape[1])
        jacobian = jacobian.double().cpu().numpy().transpose(0, 2, 1) / self.parameter_scale_
        return flux.double().cpu().numpy(), jacobian

    # ------------------------------------------------------------------ labelling
    def fit_stars(self, spectra):
        """Each star's best fit.

        Returns
        -------
        dict
            ``parameters`` (n, k) and ``covariance`` (n, k, k) in physical units (``parameter_names_``),
            ``chi2`` (n,) (with the intrinsic scatter, prior excluded), ``n_pixels`` (n,) used pixels,
            ``reduced_chi2`` (n,) ``chi2 / (n_pixels - k)``, ``restarted`` (n,) bool, and ``extra`` (n, n_extra)
            the extra labels held (physical units: observed, or regressed where missing).
        """
        self._check_fitted()
        torch.set_num_threads(self.threads)
        variance = self._variance(spectra)
        guessed = self.guess_(spectra.flux, variance, np.empty((len(spectra), 0)))
        k = len(self.parameter_mean_)
        guess = np.clip(guessed[:, :k], self.lower_, self.upper_)
        held = self._held_extra(spectra, guessed[:, k:])
        weight = np.where(np.isfinite(variance), 1.0 / variance, 0.0)
        flux = np.where(weight > 0, spectra.flux, 0.0)
        parts = [self._fit_batch(guess[i:i + _FIT_BATCH], held[i:i + _FIT_BATCH], flux[i:i + _FIT_BATCH],
                                 weight[i:i + _FIT_BATCH])
                 for i in tqdm(range(0, len(spectra), _FIT_BATCH), desc="Payne fit", unit="batch", mininterval=2.0,
                               disable=len(spectra) <= _FIT_BATCH)]
        x, curvature, chi2, restarted = (np.concatenate(p) for p in zip(*parts))
        n_pixels = (weight > 0).sum(axis=1)
        scale = self.parameter_scale_
        covariance = np.linalg.inv(curvature) * scale[:, None] * scale[None, :]
        return {"parameters": x * scale + self.parameter_mean_, "covariance": covariance, "chi2": chi2,
                "n_pixels": n_pixels, "reduced_chi2": chi2 / np.maximum(n_pixels - x.shape[1], 1),
                "restarted": restarted, "extra": held * self.extra_scale_ + self.extra_mean_}

    def _fit_batch(self, guess, held, flux, weight):
        """One batch of stars: the fit from the guess, then from the restarts where it stays poor (the extra
        labels ``held`` throughout)."""
        tensors = [torch.as_tensor(a, dtype=torch.float32, device=self.device) for a in (held, flux, weight)]
        modes = torch.as_tensor(self.misfit_modes_, dtype=torch.float32, device=self.device)
        weighted_modes = tensors[2][:, :, None] * modes  # D^-1 U, with D the pixels' own variance
        capacitance = torch.linalg.inv(torch.eye(modes.shape[1], device=self.device)
                                       + modes.T @ weighted_modes)  # (I + U^T D^-1 U)^-1
        tensors += [weighted_modes, capacitance]
        x, curvature, chi2 = self._levenberg_marquardt(torch.as_tensor(guess, device=self.device), *tensors)
        n_used = np.maximum((weight > 0).sum(axis=1) - guess.shape[1], 1)
        poor = np.flatnonzero(chi2 / n_used > self.restart_chi2)
        restarted = np.zeros(len(guess), dtype=bool)
        if poor.size and len(self.anchors_):
            restarted[poor] = True
            for anchor in self.anchors_:
                start = torch.as_tensor(np.tile(anchor, (poor.size, 1)), device=self.device)
                x_a, curvature_a, chi2_a = self._levenberg_marquardt(start, *(t[poor] for t in tensors))
                better = self._objective(x_a, chi2_a) < self._objective(x[poor], chi2[poor])
                x[poor[better]], curvature[poor[better]], chi2[poor[better]] = (
                    x_a[better], curvature_a[better], chi2_a[better])
        return x, curvature, chi2, restarted

    def _objective(self, x, chi2):
        """What the fit minimises: chi-square, plus ``-2 ln prior`` (up to a constant)."""
        if self.prior == "none":
            return chi2
        return chi2 + self._prior_terms(torch.as_tensor(x))[0].numpy()

    def _prior_terms(self, x):
        """``-2 ln prior`` (up to a constant), its half-gradient ``-grad ln prior`` and the curvature
        ``sum_c r_c P_c`` (the components' precisions weighted by their responsibilities: exact for
        one Gaussian), at standardised parameters ``x`` (a float64 tensor, (n, k))."""
        means, precisions, log_weights = (torch.as_tensor(a, device=x.device) for a in (
            self.prior_means_, self.prior_precisions_, self.prior_log_weights_))
        offset = x[:, None, :] - means[None]
        pulled = torch.einsum("ckl,ncl->nck", precisions, offset)
        log_joint = log_weights + 0.5 * torch.logdet(precisions) - 0.5 * (offset * pulled).sum(dim=2)
        responsibility = torch.softmax(log_joint, dim=1)
        return (-2 * torch.logsumexp(log_joint, dim=1), (responsibility[:, :, None] * pulled).sum(dim=1),
                torch.einsum("nc,ckl->nkl", responsibility, precisions))

    def _levenberg_marquardt(self, x, held, flux, weight, weighted_modes, capacitance):
        """Batched Levenberg-Marquardt from ``x`` (n, k, standardised), the extra labels ``held`` (n, n_extra,
        standardised) fixed, the chi-square with the inverse of the
        pixels' covariance ``D + U U^T`` (``weight`` = D^-1, ``weighted_modes`` = D^-1 U, ``capacitance`` =
        (I + U^T D^-1 U)^-1: Woodbury's identity): each star stops when a step improves
        its objective by less than 1e-3 or by a step below 1e-4, when its damping passes 1e8, or after ``max_iter`` iterations.

        Returns x (n, k), the curvature ``J^T W J (+ P)`` (n, k, k) and the chi-square (n,), as numpy.
        """
        network = self._network()
        x = x.double()
        n, k = x.shape
        lower, upper = (torch.as_tensor(b, device=self.device) for b in (self.lower_, self.upper_))

        def evaluate(points, rows):
            with torch.no_grad():
                model, jacobian = network.forward_with_jacobian(torch.cat([points.float(), held[rows]], dim=1), k)
            residual = flux[rows] - model
            weighted = jacobian * weight[rows][:, None, :]
            along = jacobian @ weighted_modes[rows]  # J^T D^-1 U, (n, k, r)
            projected = (residual[:, None, :] @ weighted_modes[rows])[:, 0, :]  # r^T D^-1 U, (n, r)
            inner = capacitance[rows]
            curvature = (weighted @ jacobian.transpose(1, 2) - along @ inner @ along.transpose(1, 2)).double()
            gradient = ((weighted @ residual[:, :, None])[:, :, 0]
                        - (along @ (inner @ projected[:, :, None]))[:, :, 0]).double()
            chi2 = ((residual ** 2 * weight[rows]).sum(dim=1)
                    - (projected[:, None, :] @ inner @ projected[:, :, None])[:, 0, 0]).double()
            if self.prior == "none":
                return curvature, gradient, chi2, chi2
            penalty, pull, prior_curvature = self._prior_terms(points)
            return curvature + prior_curvature, gradient - pull, chi2, chi2 + penalty

        curvature, gradient, chi2, objective = evaluate(x, torch.arange(n, device=self.device))
        damping = torch.full((n,), 1e-3, dtype=torch.float64, device=self.device)
        active = torch.arange(n, device=self.device)
        eye = torch.eye(k, dtype=torch.float64, device=self.device)
        for _ in range(self.max_iter):
            if not len(active):
                break
            diagonal = torch.diagonal(curvature[active], dim1=1, dim2=2)
            damped = curvature[active] + damping[active, None, None] * eye * (diagonal[:, :, None] + 1e-12)
            step = torch.linalg.solve(damped, gradient[active])
            trial = torch.clamp(x[active] + step, lower, upper)
            t_curvature, t_gradient, t_chi2, t_objective = evaluate(trial, active)
            better = t_objective < objective[active]
            gain = objective[active] - t_objective
            moved = active[better]
            x[moved], curvature[moved], gradient[moved] = trial[better], t_curvature[better], t_gradient[better]
            chi2[moved], objective[moved] = t_chi2[better], t_objective[better]
            damping[active] = torch.where(better, damping[active] / 10, damping[active] * 10)
            done = better & ((gain < 1e-3) | (step.abs().amax(dim=1) < 1e-4)) | (damping[active] > 1e8)
            active = active[~done]
        return x.cpu().numpy(), curvature.cpu().numpy(), chi2.cpu().numpy()

    def _predict(self, spectra):
        return self._labels_and_sigma(self.fit_stars(spectra))

    def _labels_and_sigma(self, fits):
        """The labels and their (uncalibrated) sigma from :meth:`fit_stars`' result (A_K left out)."""
        n_labels = len(self.label_names_)
        sigma = np.sqrt(np.diagonal(fits["covariance"], axis1=1, axis2=2))
        return fits["parameters"][:, :n_labels], sigma[:, :n_labels]

    # ------------------------------------------------------------------ misfit and influence
    def predict_and_flag(self, spectra, misfit_baseline):
        """Labels, calibrated sigma and misfit flags from one fit of each star."""
        self._check_fitted()
        self.check_compatible(spectra)
        fits = self.fit_stars(spectra)
        labels, sigma = self._labels_and_sigma(fits)
        return labels, self._calibrated(sigma, spectra), fits["reduced_chi2"] > misfit_baseline

    def misfit_baseline(self, reference_spectra):
        """The reduced chi-square that 99% of up to 1,000 training stars (``reference_spectra``, the
        training split; drawn with the model's seed) stay below at their best fit."""
        self._check_fitted()
        rows = np.random.default_rng(self.random_state).permutation(len(reference_spectra))[:1000]
        return float(np.nanquantile(self.fit_stars(reference_spectra.subset(rows))["reduced_chi2"], 0.99))

    def misfit_flags(self, spectra, labels, sigma, misfit_baseline):
        """True where a star's reduced chi-square at its best fit exceeds ``misfit_baseline`` (the stars are
        fitted again: the labels alone do not hold the fitted extinction)."""
        self._check_fitted()
        return self.fit_stars(spectra)["reduced_chi2"] > misfit_baseline

    def flux_influence(self, spectra):
        """``d label / d flux`` at each star's best fit (the inverse curvature times ``J^T W``, ``W`` the inverse of
        the pixels' covariance) times the flux error, in label units, shape (n_stars, n_pixels, n_labels)."""
        self._check_fitted()
        fits = self.fit_stars(spectra)
        _, jacobian = self.model_flux(fits["parameters"], fits["extra"])
        variance = self._variance(spectra)
        weight = np.where(np.isfinite(variance), 1.0 / variance, 0.0)
        weighted_modes = weight[:, :, None] * self.misfit_modes_
        capacitance = np.linalg.inv(np.eye(self.misfit_modes_.shape[1]) + self.misfit_modes_.T @ weighted_modes)
        weighted_jacobian = weight[:, :, None] * jacobian - weighted_modes @ (
            capacitance @ (weighted_modes.transpose(0, 2, 1) @ jacobian))  # W J, Woodbury
        response = np.einsum("nij,npj->npi", fits["covariance"], weighted_jacobian)
        n_labels = len(self.label_names_)
        return response[:, :, :n_labels] * np.where(np.isfinite(spectra.flux_error), spectra.flux_error, 0.0)[:, :, None]

    # ------------------------------------------------------------------ state
    def _get_state(self):
        state = {key: getattr(self, f"{key}_") for key in _STATE + (_EXTRA_STATE if self.extra_labels else ())}
        state.update({f"emulator/{k}": v.detach().cpu().numpy() for k, v in self.emulator_.state_dict().items()})
        state.update({f"guess/{k}": getattr(self.guess_, k) for k in FirstGuess.STATE})
        state.update({f"history/{k}": np.array(v) for k, v in self.history_.items()})
        return state

    def _set_state(self, arrays):
        for key in _STATE:
            setattr(self, f"{key}_", arrays[key])
        for key in _EXTRA_STATE:
            setattr(self, f"{key}_", arrays[key] if self.extra_labels else np.zeros(0))
        weights = {k.split("/", 1)[1]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith("emulator/")}
        self.emulator_ = Emulator(len(self.parameter_mean_) + len(self.extra_mean_), self.hidden_sizes,
                                  weights["flux_mean"].numpy(), weights["flux_scale"].numpy())
        self.emulator_.load_state_dict(weights)
        self.emulator_.eval()
        self.guess_ = FirstGuess(**{k: arrays[f"guess/{k}"] for k in FirstGuess.STATE})
        self.history_ = {k.split("/", 1)[1]: arrays[k].tolist() for k in arrays if k.startswith("history/")}


def _cluster_centres(x, n_clusters, rng, iterations=25, max_points=5000):
    """The centres of ``n_clusters`` k-means clusters of the rows of ``x`` (Lloyd's iterations on at
    most ``max_points`` of them, started from as many drawn with ``rng``), shape (n_clusters, k)."""
    points = x[rng.permutation(len(x))[:max_points]]
    centres = points[:n_clusters].copy()
    for _ in range(iterations):
        nearest = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        for c in range(len(centres)):
            if np.any(nearest == c):
                centres[c] = points[nearest == c].mean(axis=0)
    return centres
