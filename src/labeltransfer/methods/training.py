"""The pieces of the neural methods' training loop: early stopping and the learning-rate schedule."""

import numpy as np
import torch

__all__ = ["EarlyStopping", "learning_rate_schedule"]


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
