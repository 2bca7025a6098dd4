"""What the neural methods share: inputs, the training loop, the deep ensemble and checkpoints.

See :mod:`labeltransfer.methods.neural` for what the methods do; the networks and the loss are
in :mod:`labeltransfer.methods.networks`.
"""

import logging

import numpy as np
import torch
from tqdm.auto import tqdm

from ..evaluation.metrics import robust_scatter
from .base import IncompatibleDataError, LabelTransferMethod
from .networks import forward_in_batches, label_nll, log10_snr, whitened_basis
from .training import EarlyStopping, check_averaging_window, learning_rate_schedule

__all__ = ["NeuralMethod", "TRAINING_SETTINGS", "training_settings", "LIKELIHOODS", "SCHEDULES", "MONITORS"]

log = logging.getLogger(__name__)

LIKELIHOODS = ("gaussian", "student_t")
SCHEDULES = ("plateau", "cosine")
MONITORS = ("loss", "scatter")


class NeuralMethod(LabelTransferMethod):
    """Training, ensembling, normalisation and checkpoints shared by the neural methods.

    Each neural method (:class:`labeltransfer.methods.neural.MLP`, :class:`~labeltransfer.methods.neural.CNN`)
    names these training settings in its own ``__init__``, with the same defaults, and passes them
    on with :func:`training_settings`; they are documented here, once.

    Parameters
    ----------
    snr_input : bool
        Give the network the log of each spectrum's median S/N (from its flux errors) as one
        more input, so that its predicted uncertainty can grow with the noise: a normalised
        spectrum alone does not show how noisy it is.
    likelihood : {"gaussian", "student_t"}
        Likelihood of the reference labels given the predicted mean and scale (with the
        reference errors added), see :func:`~labeltransfer.methods.networks.label_nll`. With
        ``"student_t"`` the predicted sigma is the scale, made honest by the calibration on the
        validation split.
    dof : float
        Degrees of freedom of the Student-t likelihood.
    beta : float
        Exponent of the beta-NLL loss (0 for the plain likelihood; see
        :func:`~labeltransfer.methods.networks.label_nll`).
    input_noise : float
        Each training batch's flux is perturbed by this many times its own 1-sigma flux
        errors (Gaussian, drawn anew every epoch): augmentation with the survey's noise.
    epochs : int
        Most training epochs.
    batch_size : int
        Stars per batch.
    learning_rate, weight_decay : float
        Adam's learning rate and weight decay.
    schedule : {"plateau", "cosine"}
        ``"plateau"`` halves the learning rate when the monitored validation quantity has not
        improved for ``patience // 3`` epochs; ``"cosine"`` lowers it along a half cosine from
        ``learning_rate`` at the first step to zero at the last step of ``epochs``.
    ema_decay : float
        If > 0, the network kept (validated, early-stopped and saved) is the exponential moving
        average of the weights over the training steps with this decay (0.999: about the last
        1,000 steps), which scatters less than the last step's weights; 0 keeps the weights as
        trained.
    monitor : {"loss", "scatter"}
        What chooses the epoch kept and stops the training: the validation loss, or the
        validation scatter (the mean over labels of the robust scatter of the predicted labels,
        in units of each label's spread). The loss also rewards the predicted variances, which
        the calibration on the validation split corrects afterwards; the scatter follows the
        labels alone and keeps improving for longer.
    patience : int
        Epochs without a better monitored quantity before stopping.
    n_members : int
        Networks in the deep ensemble (2: a third member was a tie on every label, on
        validation; docs/validation.md).
    device : str
        ``"cpu"`` or ``"cuda"`` (the workflow sets the job's).
    threads : int
        CPU threads (the workflow sets the job's).
    random_state : int
        Seed of the first member (member ``i`` uses ``random_state + i``).
    """

    def __init__(self, *, snr_input, likelihood, dof, beta, input_noise, epochs, batch_size, learning_rate,
                 weight_decay, schedule, ema_decay, monitor, patience, n_members, device, threads, random_state):
        self.snr_input = snr_input
        self.likelihood = likelihood
        self.dof = dof
        self.beta = beta
        self.input_noise = input_noise
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.ema_decay = ema_decay
        self.monitor = monitor
        self.patience = patience
        self.n_members = n_members
        self.device = device
        self.threads = threads
        self.random_state = random_state

    # ------------------------------------------------------------------ inputs
    def _fit_normalisation(self, spectra, labels, validation_spectra):
        """Means and spreads of the inputs and labels; an auxiliary feature missing for a training or
        validation star gets a missing-value flag input (a feature missing for no such star must
        not be missing later: ``_inputs`` refuses it)."""
        flux = spectra.masked_flux()
        self.flux_mean_ = np.nanmean(flux, axis=0)
        self.flux_std_ = np.nanstd(flux, axis=0) + 1e-6
        aux = spectra.aux.astype(float)
        self.aux_mean_ = np.nanmean(aux, axis=0) if aux.shape[1] else np.zeros(0)
        self.aux_std_ = (np.nanstd(aux, axis=0) + 1e-6) if aux.shape[1] else np.zeros(0)
        self.aux_flagged_ = np.isnan(aux).any(axis=0) | np.isnan(validation_spectra.aux.astype(float)).any(axis=0)
        for name, n_missing in zip(spectra.aux_names, np.isnan(aux).sum(axis=0)):
            if n_missing:
                log.info("%s: missing for %d training stars; set to the mean and flagged", name, n_missing)
        if self.snr_input:
            log_snr = log10_snr(spectra)
            self.snr_mean_, self.snr_std_ = np.nanmean(log_snr), np.nanstd(log_snr) + 1e-6
        else:  # unused without the S/N input, saved all the same
            self.snr_mean_, self.snr_std_ = np.nan, np.nan
        self.label_mean_ = np.nanmean(labels, axis=0)
        self.label_std_ = np.nanstd(labels, axis=0)
        n_components = self._flux_components()
        self.flux_basis_ = (whitened_basis(self._standard_flux(spectra), n_components) if n_components
                            else np.zeros((0, 0), dtype=np.float32))

    def _standard_flux(self, spectra):
        """Flux standardised per pixel, masked pixels 0: float32 tensor (n, n_pixels)."""
        mean, std = (torch.as_tensor(v, dtype=torch.float32) for v in (self.flux_mean_, self.flux_std_))
        standard = (torch.as_tensor(spectra.flux, dtype=torch.float32) - mean).div_(std)
        masked = ~np.isfinite(spectra.flux_error)  # NumPy: ten times faster than torch.isfinite here
        if masked.any():
            standard[torch.as_tensor(masked)] = 0.0
        return standard

    def _flux_components(self):
        """Whitened principal components the network sees instead of the pixels (None: the pixels)."""
        return None

    def _project(self, flux):
        """Pixel-space flux (standardised units) on the whitened components, if the network takes them."""
        if not self.flux_basis_.size:
            return flux
        return flux @ torch.as_tensor(self.flux_basis_, dtype=torch.float32, device=flux.device)

    def _inputs(self, spectra):
        """Network inputs, float32: the flux (n, n_pixels, or n_components on the whitened basis) and
        the auxiliary inputs (``_aux_inputs``)."""
        return self._project(self._standard_flux(spectra)), self._aux_inputs(spectra)

    def _aux_inputs(self, spectra):
        """The auxiliary inputs, float32 (n, n_aux + n_flags [+ 1]).

        With ``snr_input`` the last auxiliary input is the standardised log10 median S/N of
        the spectrum (from its flux errors), so that the predicted variance can follow the noise.
        """
        aux = spectra.aux.astype(float)
        missing = np.isnan(aux)
        unexpected = missing & ~self.aux_flagged_
        if unexpected.any():
            bad = [f"{name} ({count} stars)" for name, count in zip(spectra.aux_names, unexpected.sum(axis=0)) if count]
            raise ValueError(f"NaN in auxiliary features that had none in training or validation: {', '.join(bad)}")
        aux = np.where(missing, 0.0, (aux - self.aux_mean_) / self.aux_std_)
        columns = [aux, missing[:, self.aux_flagged_].astype(float)]
        if self.snr_input:
            log_snr = log10_snr(spectra)
            columns.append(np.nan_to_num((log_snr - self.snr_mean_) / self.snr_std_)[:, None])
        return torch.as_tensor(np.hstack(columns), dtype=torch.float32)

    def _n_flux_inputs(self):
        return self.flux_basis_.shape[1] if self.flux_basis_.size else len(self.flux_mean_)

    def _n_aux_inputs(self):
        return len(self.aux_mean_) + int(np.sum(self.aux_flagged_)) + int(self.snr_input)

    # ------------------------------------------------------------------ training
    def _fit(self, spectra, labels, label_err, validation):
        if validation is None:
            raise ValueError(f"{type(self).__name__} needs a validation set for early stopping")
        for name, allowed in (("likelihood", LIKELIHOODS), ("schedule", SCHEDULES), ("monitor", MONITORS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        torch.set_num_threads(self.threads)
        self._fit_normalisation(spectra, labels, validation[0])
        device = torch.device(self.device)
        train = self._tensors(spectra, labels, label_err, device)
        val = self._tensors(*validation, device)
        check_averaging_window(type(self).__name__, ema_decay=self.ema_decay, steps=self._n_steps(len(train[0])),
                               epochs=self.epochs, n_stars=len(train[0]), batch_size=self.batch_size)
        self.members_, self.history_ = [], []
        for member in range(self.n_members):
            network, history = self._train_member(train, val, member, device)
            self.members_.append({k: v.detach().cpu().numpy() for k, v in network.state_dict().items()})
            self.history_.append(history)

    def _tensors(self, spectra, labels, label_err, device):
        """Inputs, standardised labels, their errors, the label mask and the flux errors."""
        flux, aux = self._inputs(spectra)
        y = (labels - self.label_mean_) / self.label_std_
        err = label_err / self.label_std_
        mask = np.isfinite(y) & np.isfinite(err)
        flux_error = np.where(np.isfinite(spectra.flux_error), spectra.flux_error / self.flux_std_, 0.0)
        return [t.to(device) for t in (flux, aux, torch.as_tensor(np.where(mask, y, 0.0), dtype=torch.float32),
                                       torch.as_tensor(np.where(mask, err, 1.0), dtype=torch.float32),
                                       torch.as_tensor(mask, dtype=torch.float32),
                                       torch.as_tensor(flux_error, dtype=torch.float32))]

    def _n_steps(self, n_stars):
        """Optimiser steps in the whole training: ``epochs`` of ``n_stars`` in batches (the last one short)."""
        return self.epochs * -(-n_stars // self.batch_size)

    def _train_member(self, train, val, member, device):
        seed = self.random_state + member
        torch.manual_seed(seed)
        network = self._network().to(device)
        average = None
        if self.ema_decay:
            average = torch.optim.swa_utils.AveragedModel(
                network, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(self.ema_decay))
        optimiser = torch.optim.Adam(network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        n = len(train[0])
        schedule = learning_rate_schedule(optimiser, self.schedule, self.patience, self._n_steps(n))
        generator = torch.Generator().manual_seed(seed)
        stopping = EarlyStopping(self.patience)
        history = {"train": [], "validation": [], "validation_scatter": []}
        bar = tqdm(range(self.epochs), desc=f"{type(self).__name__} member {member + 1} of {self.n_members}",
                   unit="epoch", mininterval=1.0)
        for epoch in bar:
            network.train()
            order = torch.randperm(n, generator=generator).to(device)
            total = 0.0
            for lo in range(0, n, self.batch_size):
                flux, aux, *target, flux_error = [t[order[lo:lo + self.batch_size]] for t in train]
                if self.input_noise:
                    flux = flux + self.input_noise * self._project(flux_error * torch.randn_like(flux_error))
                loss = self._nll(*network(flux, aux), *target)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                if self.schedule == "cosine":
                    schedule.step()
                if average is not None:
                    average.update_parameters(network)
                total += loss.item() * len(flux)
            evaluated = network if average is None else average.module
            val_loss, val_scatter = self._validate(evaluated, val)
            history["train"].append(total / n)
            history["validation"].append(val_loss)
            history["validation_scatter"].append(val_scatter)
            monitored = val_loss if self.monitor == "loss" else val_scatter
            if self.schedule == "plateau":
                schedule.step(monitored)
            log.info("member %d epoch %d: train loss %.4f, validation loss %.4f, validation scatter %.4f, lr %.2g",
                     member + 1, epoch + 1, total / n, val_loss, val_scatter, optimiser.param_groups[0]["lr"])
            bar.set_postfix(train=f"{total / n:.3f}", val=f"{val_loss:.3f}", scatter=f"{val_scatter:.3f}")
            if stopping.update(monitored, evaluated):
                log.info("member %d: early stop at epoch %d (best validation %s %.4f)", member + 1, epoch + 1,
                         self.monitor, stopping.best)
                break
        bar.close()
        network.load_state_dict(stopping.best_state)
        return network, history

    def _nll(self, mean, log_var, target, target_err, mask):
        return label_nll(mean, log_var, target, target_err, mask, beta=self.beta,
                         dof=self.dof if self.likelihood == "student_t" else None)

    @torch.no_grad()
    def _validate(self, network, data):
        """Loss on ``data`` and the scatter of its predicted labels: the mean over labels of the
        robust scatter (1.4826 MAD) of the residuals in standardised units, observed labels only."""
        network.eval()
        flux, aux, target, target_err, mask, _ = data  # the flux errors are for training only
        mean, log_var = forward_in_batches(network, flux, aux, 4096)
        loss = self._nll(mean, log_var, target, target_err, mask).item()
        residual, observed = (mean - target).cpu().numpy(), mask.cpu().numpy() > 0
        scatter = np.mean([robust_scatter(residual[observed[:, k], k]) for k in range(residual.shape[1])])
        return loss, float(scatter)

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def _member_outputs(self, spectra):
        """Each member's means and variances, shape (n_members, n_stars, n_labels), label units."""
        torch.set_num_threads(self.threads)
        device = torch.device(self.device)
        flux, aux = (t.to(device) for t in self._inputs(spectra))
        means, variances = [], []
        for network in self._member_networks(device):
            mean, log_var = forward_in_batches(network, flux, aux, 8192)
            means.append(mean.cpu().numpy())
            variances.append(log_var.exp().cpu().numpy())
        return (np.array(means) * self.label_std_ + self.label_mean_,
                np.array(variances) * self.label_std_ ** 2)

    def _member_networks(self, device):
        """The members as networks on ``device`` in evaluation mode, built once for as long as the
        members stay the same objects (a survey is labelled block after block: building them each
        time was a tenth of a chunk job's labelling); a member's arrays changed in place are not
        noticed: replace the member instead."""
        built = getattr(self, "_built_members", None)
        if (built is None or built[0] != str(device) or len(built[1]) != len(self.members_)
                or any(state is not kept for state, kept in zip(self.members_, built[1]))):
            networks = []
            for state in self.members_:
                network = self._network().to(device)
                network.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
                networks.append(network.eval())
            self._built_members = built = (str(device), list(self.members_), networks)
        return built[2]

    def _predict(self, spectra):
        """Ensemble mean and uncalibrated sigma: mean variance (aleatoric) + variance of means."""
        return _ensemble(*self._member_outputs(spectra))

    influence_kind = "gradient x flux error"

    def flux_influence(self, spectra):
        """The derivative of the ensemble's mean labels with respect to each pixel's flux (by
        automatic differentiation through the standardisation, the whitened projection and each
        network) times the pixel's flux error, label units, shape (n_stars, n_pixels, n_labels);
        masked pixels 0."""
        self._check_fitted()
        torch.set_num_threads(self.threads)
        device = torch.device(self.device)
        standard = self._standard_flux(spectra).to(device).requires_grad_(True)
        flux, aux = self._project(standard), self._aux_inputs(spectra).to(device)
        gradient = np.zeros((*standard.shape, len(self.label_names_)))
        for network in self._member_networks(device):
            mean, _ = network(flux, aux)
            for k in range(mean.shape[1]):
                gradient[:, :, k] += torch.autograd.grad(mean[:, k].sum(), standard, retain_graph=True)[0].cpu().numpy()
        error = np.where(np.isfinite(spectra.flux_error), spectra.flux_error, 0.0)
        scale = self.label_std_[None, :] / self.flux_std_[:, None]
        return gradient / len(self.members_) * scale[None] * error[:, :, None]

    def misfit_flags(self, spectra, labels, sigma, misfit_baseline):
        """Stars on which the members disagree: the spread of their means above the calibrated
        ``sigma`` for some label (none with a single member)."""
        means, _ = self._member_outputs(spectra)
        return _members_disagree(means, sigma)

    def predict_and_flag(self, spectra, misfit_baseline):
        """:meth:`predict` and :meth:`misfit_flags` from one pass of the members."""
        self._check_fitted()
        self.check_compatible(spectra)
        means, variances = self._member_outputs(spectra)
        labels, sigma = _ensemble(means, variances)
        sigma = self._calibrated(sigma, spectra)
        return labels, sigma, _members_disagree(means, sigma)

    def sub_ensemble(self, n_members, validation):
        """A copy made of the first ``n_members`` networks, recalibrated on ``validation``.

        Parameters
        ----------
        n_members : int
        validation : tuple (Spectra, labels)
            The stars the copy's uncertainties are calibrated on (the validation split).

        Returns
        -------
        The same kind of method, fitted.
        """
        self._check_fitted()
        if not 1 <= n_members <= len(self.members_):
            raise ValueError(f"n_members must be 1..{len(self.members_)}, got {n_members}")
        params = {**self.get_params(), "n_members": n_members}
        copy = type(self)(**params)
        copy._set_state(self._get_state())
        copy.label_names_, copy.aux_names_, copy.wavelength_ = self.label_names_, self.aux_names_, self.wavelength_
        copy._calibrate(*validation)
        return copy

    # ------------------------------------------------------------------ persistence
    _NORMALISATION = ("flux_mean", "flux_std", "flux_basis", "aux_mean", "aux_std", "aux_flagged", "snr_mean",
                      "snr_std", "label_mean", "label_std")

    def _get_state(self):
        state = {key: getattr(self, f"{key}_") for key in self._NORMALISATION}
        for i, member in enumerate(self.members_):
            state.update({f"member{i}/{k}": v for k, v in member.items()})
        for i, history in enumerate(self.history_):
            state.update({f"history{i}/{k}": np.array(v) for k, v in history.items()})
        return state

    def _set_state(self, arrays):
        missing = [key for key in self._NORMALISATION if key not in arrays]
        if missing:
            raise IncompatibleDataError(f"{type(self).__name__} checkpoint lacks {', '.join(missing)}: written by "
                                        "another version of labeltransfer; train the model again")
        for key in self._NORMALISATION:
            setattr(self, f"{key}_", arrays[key])
        self.members_ = [{k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(f"member{i}/")}
                         for i in range(self.n_members)]
        self.history_ = [{k.split("/", 1)[1]: v.tolist() for k, v in arrays.items() if k.startswith(f"history{i}/")}
                         for i in range(self.n_members)]


#: The training settings every neural method shares: the parameters of ``NeuralMethod.__init__``.
TRAINING_SETTINGS = tuple(NeuralMethod.param_names())


def training_settings(arguments):
    """The shared training settings among a neural method's ``__init__`` arguments (its ``locals()``),
    for ``NeuralMethod.__init__``."""
    return {name: arguments[name] for name in TRAINING_SETTINGS}


def _ensemble(means, variances):
    """The members' mean and its uncalibrated sigma (mean variance, the aleatoric part, plus the
    variance of the means) from each member's means and variances (n_members, n_stars, n_labels)."""
    return means.mean(axis=0), np.sqrt(variances.mean(axis=0) + means.var(axis=0))


def _members_disagree(means, sigma):
    """Stars whose members' means spread by more than ``sigma`` for some label."""
    return np.any(means.std(axis=0) > sigma, axis=1)
