"""The pieces of the neural methods' training loop: early stopping, the learning-rate schedule and
the check of the weight average's window."""

import logging

import numpy as np
import torch

__all__ = ["EarlyStopping", "learning_rate_schedule", "check_averaging_window"]

log = logging.getLogger(__name__)


class EarlyStopping:
    """Keeps the network state with the lowest monitored quantity, and says when to stop.

    Parameters
    ----------
    patience : int
        Evaluations without a lower monitored quantity after which ``update`` says stop.
    """

    def __init__(self, patience):
        self.patience = patience
        self.best = np.inf
        self.best_state = None
        self.stale = 0

    def update(self, monitored, network):
        """Record one evaluation of ``network``; True when training should stop."""
        if monitored < self.best:
            self.best, self.stale = monitored, 0
            self.best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
            return False
        self.stale += 1
        return self.stale >= self.patience


def learning_rate_schedule(optimiser, schedule, patience, n_steps):
    """``"plateau"``: halve the rate after ``patience // 3`` epochs without a better monitored
    quantity (stepped per epoch with it); ``"cosine"``: from the initial rate to zero over
    ``n_steps`` optimiser steps (stepped per step)."""
    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=max(1, patience // 3))
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=n_steps)


def check_averaging_window(who, *, ema_decay, steps, epochs, n_stars, batch_size):
    """Warn when the weight average (decay ``ema_decay`` over ``steps`` optimiser steps) would
    still hold much of the first steps' weights."""
    if ema_decay and ema_decay ** steps > 0.05:
        log.warning("%s: with ema_decay %g the first of the %d training steps (%d epochs of %d stars in batches of "
                    "%d) still weigh %.0f%% in the averaged network, which stays near its starting weights: lower "
                    "ema_decay or train longer", who, ema_decay, steps, epochs, n_stars, batch_size,
                    100 * ema_decay ** steps)
