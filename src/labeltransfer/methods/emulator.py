"""The Payne's emulator: a fully connected network from standardised stellar parameters to the flux,
with its Jacobian computed alongside (forward mode), and its training.

The network maps ``k`` standardised parameters through hidden layers with the SiLU activation (smooth,
so that the per-star fit's Gauss-Newton steps and curvature are well defined) to ``mean + scale * out``
on every pixel. Its Jacobian ``d flux / d x`` travels with the activations, one column per parameter,
as ``k`` extra rows of each layer's matrix product: a fit's iteration costs about ``k + 1`` forward
passes and no backward pass.

Training maximises the Gaussian likelihood of the training spectra at their reference parameters,
each pixel's variance the flux error squared, plus a per-pixel intrinsic scatter squared (fitted
at the start of each epoch by maximum likelihood from the training stars' residuals, as The Cannon's),
plus the reference parameters' errors carried through the network to first order
(``sum_k (d flux / d x_k * error_k)^2``, with the Jacobian refreshed once per epoch): a star whose
labels are uncertain pulls the model less where the spectrum is sensitive to them.
"""

import logging

import numpy as np
import torch
from scipy.stats import chi2
from tqdm.auto import tqdm

from .training import EarlyStopping, learning_rate_schedule

__all__ = ["Emulator", "maximum_likelihood_scatter", "median_matched_scatter", "train_emulator"]

log = logging.getLogger(__name__)

#: Training stars (drawn anew each epoch) whose residuals give the epoch's intrinsic scatter.
SCATTER_STARS = 5000


class Emulator(torch.nn.Module):
    """Standardised inputs (n, k: the parameters, then any held extra labels) -> flux (n, n_pixels), with
    ``forward_with_jacobian``.

    Parameters
    ----------
    n_parameters : int
    hidden_sizes : sequence of int
    flux_mean, flux_scale : ndarray, shape (n_pixels,)
        The output is ``flux_mean + flux_scale * network``.
    """

    def __init__(self, n_parameters, hidden_sizes, flux_mean, flux_scale):
        super().__init__()
        sizes = [n_parameters, *hidden_sizes, len(flux_mean)]
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.register_buffer("flux_mean", torch.as_tensor(flux_mean, dtype=torch.float32))
        self.register_buffer("flux_scale", torch.as_tensor(flux_scale, dtype=torch.float32))
        self.register_buffer("log_scatter", torch.log(0.01 * self.flux_mean.abs() + 1e-4))

    def forward(self, x):
        """The flux at parameters ``x``, shape (n, n_pixels)."""
        for layer in self.layers[:-1]:
            x = torch.nn.functional.silu(layer(x))
        return self.flux_mean + self.flux_scale * self.layers[-1](x)

    def forward_with_jacobian(self, x, n_differentiated=None):
        """The flux, shape (n, n_pixels), and its Jacobian ``d flux / d x``, shape (n, k, n_pixels), with respect
        to the first ``k = n_differentiated`` parameters (all of them where None; the rest, held, cost nothing)."""
        n = len(x)
        k = x.shape[1] if n_differentiated is None else n_differentiated
        jacobian = self.layers[0].weight.T[:k].expand(n, k, -1)
        for i, layer in enumerate(self.layers):
            if i:
                jacobian = jacobian @ layer.weight.T
            x = layer(x)
            if i < len(self.layers) - 1:
                sigmoid = torch.sigmoid(x)
                jacobian = jacobian * (sigmoid * (1 + x * (1 - sigmoid)))[:, None, :]
                x = x * sigmoid
        return self.flux_mean + self.flux_scale * x, jacobian * self.flux_scale

    def scatter(self):
        """The per-pixel intrinsic scatter, shape (n_pixels,)."""
        return torch.exp(self.log_scatter)


def _negative_log_likelihood(emulator, x, flux, variance, weight):
    """Mean Gaussian negative log-likelihood per used pixel: residuals of ``emulator(x)`` against
    ``flux`` with the variance ``variance + scatter^2``; ``weight`` 0 drops a pixel (masked)."""
    used = weight > 0
    total = torch.where(used, variance + emulator.scatter() ** 2, 1.0)  # a masked pixel: no 0 / 0
    residual = torch.where(used, flux - emulator(x), 0.0)
    return (weight * (residual ** 2 / total + torch.log(total))).sum() / (2 * weight.sum())


def _residuals_and_carried(emulator, x, x_error, flux, batch_size):
    """The residuals ``flux - emulator(x)`` and the reference parameters' errors carried to the flux,
    ``sum_k (J_k error_k)^2``, each (n, n_pixels)."""
    residuals, carried = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            model, jacobian = emulator.forward_with_jacobian(x[i:i + batch_size])
            residuals.append(flux[i:i + batch_size] - model)
            carried.append((jacobian ** 2 * x_error[i:i + batch_size, :, None] ** 2).sum(dim=1))
    return torch.cat(residuals), torch.cat(carried)


def maximum_likelihood_scatter(residual, variance, weight, iterations=30):
    """Each pixel's intrinsic scatter ``s`` maximising the Gaussian likelihood of ``residual`` with the
    variance ``variance + s^2`` over the stars of ``weight`` 1, shape (n_pixels,): the fixed point of
    ``s^2 = sum w^2 (r^2 - v) / sum w^2``, ``w = 1 / (v + s^2)``, from the moment estimate, held at or
    above 0."""
    excess = weight * (residual ** 2 - variance)
    scatter2 = torch.clamp(excess.sum(dim=0) / weight.sum(dim=0).clamp(min=1), min=0)
    for _ in range(iterations):
        w2 = torch.where(weight > 0, weight / (variance + scatter2).clamp(min=1e-30) ** 2, 0.0)
        scatter2 = torch.clamp((w2 * (residual ** 2 - variance)).sum(dim=0) / w2.sum(dim=0).clamp(min=1e-30), min=0)
    return torch.sqrt(scatter2)


def median_matched_scatter(residual, variance, usable, iterations=60):
    """Each pixel's intrinsic scatter ``s`` at which the median over the ``usable`` stars of
    ``residual^2 / (variance + s^2)`` is a one-dof chi-square's median (0.455), shape (n_pixels,); 0
    where the noise alone already gives that. The median star is then described to its noise, as a
    mean (moment or maximum likelihood) estimate, which the worst-fitted stars' tails pull up, does not
    do. Found by bisection (the median falls as ``s`` grows); arrays (n_stars, n_pixels), numpy."""
    target = chi2.ppf(0.5, 1)
    scatter = np.zeros(residual.shape[1])
    seen = usable.any(axis=0)  # a pixel no star uses has no misfit to measure
    squared = np.where(usable, residual ** 2, np.nan)[:, seen]
    variance = np.asarray(variance, dtype=float)[:, seen]
    low, high = np.zeros(seen.sum()), np.sqrt(np.nanmax(squared, axis=0)) + 1e-12
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        above = np.nanmedian(squared / np.maximum(variance + middle ** 2, 1e-300), axis=0) > target
        low, high = np.where(above, middle, low), np.where(above, high, middle)
    scatter[seen] = 0.5 * (low + high)
    return scatter


def train_emulator(emulator, training, validation, *, learning_rate, batch_size, weight_decay, epochs, patience,
                   generator):
    """Fit ``emulator`` by maximum likelihood with early stopping on the validation stars' likelihood.

    Parameters
    ----------
    emulator : Emulator
    training, validation : tuple of tensors (x, x_error, flux, variance, weight)
        Standardised parameters and their errors (n, k); flux, its error squared (0 where masked)
        and the pixel weights (1 used, 0 masked), each (n, n_pixels).
    learning_rate, batch_size, weight_decay, epochs, patience :
        Adam's settings; at most ``epochs`` epochs, stopping after ``patience`` without a better
        validation likelihood (the learning rate halves after ``patience // 3``).
    generator : torch.Generator
        Draws the batches.

    Returns
    -------
    dict
        ``train_loss`` and ``validation_loss`` per epoch (mean negative log-likelihood per pixel).
    """
    x, x_error, flux, variance, weight = training
    optimiser = torch.optim.Adam(emulator.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = learning_rate_schedule(optimiser, "plateau", patience, None)
    stopping = EarlyStopping(patience)
    history = {"train_loss": [], "validation_loss": []}
    bar = tqdm(range(epochs), desc="Payne emulator", unit="epoch", mininterval=1.0)
    for epoch in bar:
        emulator.train()
        order = torch.randperm(len(x), generator=generator)
        residual, carried = _residuals_and_carried(emulator, x, x_error, flux, 4 * batch_size)
        some = order[:SCATTER_STARS].to(x.device)
        emulator.log_scatter = torch.log(maximum_likelihood_scatter(residual[some], variance[some] + carried[some],
                                                                    weight[some]) + 1e-8)
        total = 0.0
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size].to(x.device)
            loss = _negative_log_likelihood(emulator, x[rows], flux[rows], variance[rows] + carried[rows],
                                            weight[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(rows)
        emulator.eval()
        with torch.no_grad():
            validation_variance = validation[3] + _residuals_and_carried(emulator, validation[0], validation[1],
                                                                         validation[2], 4 * batch_size)[1]
            monitored = float(_negative_log_likelihood(emulator, validation[0], validation[2], validation_variance,
                                                       validation[4]))
        history["train_loss"].append(total / len(x))
        history["validation_loss"].append(monitored)
        schedule.step(monitored)
        bar.set_postfix(validation_loss=f"{monitored:.4f}", refresh=False)
        if stopping.update(monitored, emulator):
            break
    bar.close()
    log.info("emulator: %d epochs, best validation loss %.4f", len(history["validation_loss"]), stopping.best)
    if stopping.best_state is None:
        raise ValueError(f"the emulator's validation loss was never finite ({history['validation_loss'][:3]} ...): "
                         "the validation spectra have no usable pixel, or the training diverged")
    emulator.load_state_dict(stopping.best_state)
    return history
