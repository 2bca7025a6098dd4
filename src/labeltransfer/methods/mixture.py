"""A Gaussian mixture density of stellar parameters, fitted by expectation-maximisation (numpy only):
the population prior of the Payne's per-star fit and of the information bound."""

import numpy as np

__all__ = ["GaussianMixture"]


class GaussianMixture:
    """A Gaussian mixture density with full covariances, fitted by expectation-maximisation (numpy).

    The parameters are centred on their median and divided by their interquartile range / 1.349
    (robust to the few outliers of A_K) before the fit; ``reg_covar`` is added to each component's
    covariance in those units, so that no component collapses onto a few stars (whose score, and so
    ``J_P``, would be that of a spike).

    Parameters
    ----------
    n_components : int
    reg_covar : float
    max_iter : int
    tol : float
        Stop when the mean log-density improves by less.
    random_state : int
        Draws the initial means (stars drawn far apart, :func:`_spread_points`).
    """

    def __init__(self, n_components, reg_covar=1e-3, max_iter=300, tol=1e-3, random_state=0):
        self.n_components = n_components
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, x):
        """Fit to ``x`` (n, d), physical units; returns ``self``."""
        x = np.asarray(x, dtype=float)
        self.centre_ = np.median(x, axis=0)
        spread = np.subtract(*np.percentile(x, [75, 25], axis=0)) / 1.349
        self.scale_ = np.where(spread > 0, spread, 1.0)
        u = self._standard(x)
        n, d = u.shape
        regularised = self.reg_covar * np.eye(d)
        self.means_ = _spread_points(u, self.n_components, np.random.default_rng(self.random_state))
        self.covariances_ = np.repeat((np.cov(u, rowvar=False).reshape(d, d) + regularised)[None], self.n_components, 0)
        self.weights_ = np.full(self.n_components, 1.0 / self.n_components)
        previous = -np.inf
        for iteration in range(1, self.max_iter + 1):
            log_joint = self._log_joint(u)
            mean = np.mean(_logsumexp(log_joint))
            if mean - previous < self.tol:
                break
            previous = mean
            responsibility = np.exp(log_joint - _logsumexp(log_joint)[:, None])
            counts = responsibility.sum(axis=0) + 1e-12
            self.weights_ = counts / counts.sum()
            self.means_ = responsibility.T @ u / counts[:, None]
            for k in range(self.n_components):
                centred = u - self.means_[k]
                self.covariances_[k] = (responsibility[:, k, None] * centred).T @ centred / counts[k] + regularised
        self.n_iter_ = iteration
        return self

    def _standard(self, x):
        return (np.asarray(x, dtype=float) - self.centre_) / self.scale_

    def _log_joint(self, u):
        """log(weight_k N(u | mean_k, cov_k)), shape (n, n_components), in the standardised units."""
        factors = np.linalg.cholesky(np.linalg.inv(self.covariances_))  # precision = R R^T
        logdet = -2 * np.sum(np.log(np.diagonal(factors, axis1=1, axis2=2)), axis=1)
        quadratic = np.column_stack([np.sum(((u - mean) @ factor) ** 2, axis=1)
                                     for mean, factor in zip(self.means_, factors)])
        return np.log(self.weights_) - 0.5 * (quadratic + logdet + u.shape[1] * np.log(2 * np.pi))

    def log_density(self, x):
        """log p(x), shape (n,), per unit of the physical parameters."""
        return _logsumexp(self._log_joint(self._standard(x))) - np.sum(np.log(self.scale_))

    def responsibilities(self, x):
        """Each point's probability of belonging to each component, shape (n, n_components)."""
        log_joint = self._log_joint(self._standard(x))
        return np.exp(log_joint - _logsumexp(log_joint)[:, None])

    def precisions(self):
        """Each component's inverse covariance, shape (n_components, d, d), per unit of the physical parameters."""
        return np.linalg.inv(self.covariances_) / np.outer(self.scale_, self.scale_)

    def score(self, x):
        """grad log p(x), shape (n, d), per unit of the physical parameters."""
        u = self._standard(x)
        responsibility = self.responsibilities(x)
        score = np.zeros_like(u)
        for k, precision in enumerate(np.linalg.inv(self.covariances_)):
            score -= responsibility[:, k, None] * ((u - self.means_[k]) @ precision)
        return score / self.scale_

    def sample(self, n, rng):
        """``n`` draws from the mixture, shape (n, d), physical units."""
        component = rng.choice(self.n_components, n, p=self.weights_)
        factors = np.linalg.cholesky(self.covariances_)
        u = self.means_[component] + np.einsum("nij,nj->ni", factors[component],
                                                rng.standard_normal((n, self.means_.shape[1])))
        return self.centre_ + u * self.scale_

    def information(self, n_draws, rng):
        """``J_P = E_p[grad log p grad log p^T]``, shape (d, d), from ``n_draws`` draws of the mixture
        (scored 20,000 at a time)."""
        draws = self.sample(n_draws, rng)
        total = np.zeros((draws.shape[1], draws.shape[1]))
        for block in np.array_split(draws, max(1, -(-n_draws // 20_000))):
            score = self.score(block)
            total += score.T @ score
        return total / n_draws


def _spread_points(u, n_points, rng):
    """``n_points`` of the rows of ``u`` drawn far apart (k-means++: each with probability as its squared
    distance to the nearest drawn, that distance capped at its 99th percentile so that a few outliers
    are not drawn first)."""
    drawn = [u[rng.integers(len(u))]]
    distance = np.sum((u - drawn[0]) ** 2, axis=1)
    for _ in range(n_points - 1):
        capped = np.minimum(distance, np.percentile(distance, 99))
        drawn.append(u[rng.choice(len(u), p=capped / capped.sum())])
        distance = np.minimum(distance, np.sum((u - drawn[-1]) ** 2, axis=1))
    return np.array(drawn)


def _logsumexp(values):
    """log of the sum of exp over the last axis, without overflow."""
    top = np.max(values, axis=-1)
    return top + np.log(np.sum(np.exp(values - top[..., None]), axis=-1))
