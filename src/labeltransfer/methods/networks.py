"""The PyTorch networks of the neural methods, their loss, and their inputs' transforms."""

import numpy as np
import torch
from torch import nn

__all__ = ["whitened_basis", "log10_snr", "label_nll", "forward_in_batches", "MLPNetwork", "CNNNetwork"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}
_MIN_LOG_VAR = -12.0


def whitened_basis(standard_flux, n_components):
    """The leading principal components of the flux, scaled to unit variance: shape (n_pixels, n_components).

    ``standard_flux @ basis`` gives each spectrum's coordinates on the components, each of
    variance one over the given spectra, so that a network sees the faint components (line
    depths at fixed colour) on the same footing as the few that hold most of the variance
    (temperature and reddening). XP spectra sampled on 343 pixels span fewer than 100
    dimensions (they are made of 2 x 55 basis functions), so a component beyond their rank
    holds rounding error only, and asking for one is refused.

    Parameters
    ----------
    standard_flux : Tensor, shape (n_stars, n_pixels)
        Training flux standardised per pixel.
    n_components : int

    Returns
    -------
    ndarray, float32
    """
    variance, vectors = _principal_components(standard_flux)
    n_usable = int((variance > 1e-9 * variance[0]).sum())
    if n_components > n_usable:
        raise ValueError(f"flux_components={n_components}, but the {len(standard_flux)} training spectra span "
                         f"{n_usable} components of non-negligible variance: ask for at most {n_usable}")
    return (vectors[:, :n_components] / variance[:n_components].sqrt()).float().numpy()


def spanned_components(standard_flux):
    """How many principal components of ``standard_flux`` (n_stars, n_pixels) have non-negligible
    variance (above 1e-9 of the first): the most ``whitened_basis`` can give."""
    variance, _ = _principal_components(torch.as_tensor(standard_flux))
    return int((variance > 1e-9 * variance[0]).sum())


def _principal_components(standard_flux):
    """Variances (decreasing) and directions of the principal components of standardised flux."""
    variance, vectors = torch.linalg.eigh(torch.cov(standard_flux.double().T))
    order = variance.argsort(descending=True)
    return variance[order], vectors[:, order]


def log10_snr(spectra):
    """log10 of each spectrum's median S/N (:func:`~labeltransfer.data.spectra.median_snr`), floored at S/N 1."""
    return np.log10(np.clip(spectra.snr(), 1.0, None))


def label_nll(mean, log_var, target, target_err, mask, beta=0.0, dof=None):
    """Mean over observed labels of the negative log-likelihood of the reference labels.

    The predicted variance (squared scale) ``exp(log_var)`` and the reference error add:
    ``v = exp(log_var) + err^2``. With ``dof=None`` the likelihood is Gaussian,
    ``0.5 (r^2 / v + log v)``; with ``dof`` it is a Student-t of ``dof`` degrees of freedom,
    ``0.5 log v + 0.5 (dof + 1) log(1 + r^2 / (dof v))`` (constants dropped), whose heavy tails
    let stars with bad reference labels or spectra pull less on the fit of the others.

    With ``beta > 0`` each term is weighted by the (constant) variance to the power ``beta``,
    the beta-NLL of Seitzer et al. 2022, which keeps poorly fitted stars from being given up
    on by a large predicted variance; ``beta = 0`` is the plain NLL.

    Parameters
    ----------
    mean, log_var : Tensor, shape (n, n_labels)
        Predicted mean and log-variance (standardised units).
    target, target_err : Tensor, shape (n, n_labels)
        Reference labels and their 1-sigma errors (standardised units).
    mask : Tensor, shape (n, n_labels)
        1 where the reference label exists, 0 where it is missing (no contribution).
    beta : float
    dof : float or None
    """
    variance = log_var.exp() + target_err ** 2
    if dof is None:
        nll = 0.5 * ((target - mean) ** 2 / variance + variance.log())
    else:
        nll = 0.5 * variance.log() + 0.5 * (dof + 1) * torch.log1p((target - mean) ** 2 / (dof * variance))
    if beta:
        nll = nll * variance.detach() ** beta
    return (nll * mask).sum() / mask.sum().clamp(min=1.0)



def forward_in_batches(network, flux, aux, batch_size):
    """The network's (mean, log-variance) for every star, computed ``batch_size`` stars at a time."""
    parts = [network(flux[lo:lo + batch_size], aux[lo:lo + batch_size]) for lo in range(0, len(flux), batch_size)]
    return tuple(torch.cat(outputs) for outputs in zip(*parts))

class Head(nn.Module):
    """Dense layers to a mean and a log-variance per label."""

    def __init__(self, n_in, hidden_sizes, n_labels, activation, dropout):
        super().__init__()
        layers = []
        for size in hidden_sizes:
            layers += [nn.Linear(n_in, size), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            n_in = size
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(n_in, 2 * n_labels)
        self.n_labels = n_labels

    def forward(self, x):
        out = self.out(self.body(x))
        return out[:, : self.n_labels], out[:, self.n_labels:].clamp(min=_MIN_LOG_VAR)


class MLPNetwork(nn.Module):
    def __init__(self, n_pixels, n_aux, n_labels, hidden_sizes, activation, dropout):
        super().__init__()
        self.head = Head(n_pixels + n_aux, hidden_sizes, n_labels, activation, dropout)

    def forward(self, flux, aux):
        return self.head(torch.cat([flux, aux], dim=1))


class CNNNetwork(nn.Module):
    def __init__(self, *, n_pixels, n_aux, n_labels, filters, kernel_size, pool, dense_sizes, activation, dropout):
        super().__init__()
        layers, channels, length = [], 1, n_pixels
        for n_filters in filters:
            layers += [nn.Conv1d(channels, n_filters, kernel_size, padding=kernel_size // 2),
                       _ACTIVATIONS[activation](), nn.MaxPool1d(pool)]
            channels, length = n_filters, length // pool
        self.convolutions = nn.Sequential(*layers)
        self.head = Head(channels * length + n_aux, dense_sizes, n_labels, activation, dropout)

    def forward(self, flux, aux):
        features = self.convolutions(flux[:, None, :]).flatten(1)
        return self.head(torch.cat([features, aux], dim=1))
