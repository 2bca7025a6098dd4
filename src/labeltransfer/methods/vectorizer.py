"""Polynomial label vectorizer of The Cannon (Ness et al. 2015; Casey et al. 2016).

A star's standardised labels ``x`` (``n_labels`` values) are mapped to the vector of all
monomials up to a given total order, cross terms included: ``[1, x1, x2, x1^2, x1 x2, ...]``.
"""

from itertools import combinations_with_replacement

import numpy as np

__all__ = ["PolynomialVectorizer"]


class PolynomialVectorizer:
    """All monomials of ``n_labels`` variables up to total degree ``order``.

    Parameters
    ----------
    n_labels : int
        Number of labels (dimensions of ``x``).
    order : int
        Highest total degree of a term (1 linear, 2 quadratic, 3 cubic, ...).
    """

    def __init__(self, n_labels, order):
        if n_labels < 1 or order < 1:
            raise ValueError(f"need n_labels >= 1 and order >= 1, got {n_labels}, {order}")
        self.n_labels = n_labels
        self.order = order
        exponents = [np.zeros(n_labels, dtype=int)]
        for degree in range(1, order + 1):
            for combo in combinations_with_replacement(range(n_labels), degree):
                exponents.append(np.bincount(combo, minlength=n_labels))
        self.exponents = np.array(exponents)

    @property
    def n_terms(self):
        """Number of terms, the constant included."""
        return len(self.exponents)

    def __call__(self, x):
        """Term vectors ``v(x)``.

        Parameters
        ----------
        x : ndarray, shape (n_stars, n_labels)

        Returns
        -------
        ndarray, shape (n_stars, n_terms)
        """
        powers = self._powers(x)
        return np.prod(
            [powers[k][:, self.exponents[:, k]] for k in range(self.n_labels)], axis=0
        )

    def jacobian(self, x):
        """Derivatives of the terms with respect to the labels, ``d v_t / d x_k``.

        Parameters
        ----------
        x : ndarray, shape (n_stars, n_labels)

        Returns
        -------
        ndarray, shape (n_stars, n_terms, n_labels)
        """
        powers = self._powers(x)
        factors = [powers[k][:, self.exponents[:, k]] for k in range(self.n_labels)]
        jac = np.empty((len(x), self.n_terms, self.n_labels))
        for k in range(self.n_labels):
            e = self.exponents[:, k]
            derivative = e * powers[k][:, np.maximum(e - 1, 0)]
            others = [factors[j] for j in range(self.n_labels) if j != k]
            jac[:, :, k] = derivative * (np.prod(others, axis=0) if others else 1.0)
        return jac

    def held(self, n_free):
        """Split off the last labels, to be held fixed: the vectorizer of the first ``n_free`` labels and
        the 0/1 matrix, shape (n_terms, its n_terms), that maps each term here to the monomial of the
        free labels in it (with the held labels at values ``h``, ``v(x) = (v * held_factors(h)) @ map``)."""
        free = PolynomialVectorizer(n_free, self.order)
        column = {tuple(e): s for s, e in enumerate(free.exponents)}
        mapping = np.zeros((self.n_terms, free.n_terms))
        mapping[np.arange(self.n_terms), [column[tuple(e[:n_free])] for e in self.exponents]] = 1.0
        return free, mapping

    def held_factors(self, held):
        """Each term's factor from the last labels at values ``held``, shape (n_stars, n_held) ->
        (n_stars, n_terms)."""
        held = np.asarray(held, dtype=float)
        exponents = self.exponents[:, self.n_labels - held.shape[1]:]
        return np.prod(held[:, None, :] ** exponents[None], axis=2)

    def _powers(self, x):
        """``x_k ** p`` for p = 0..order, one (n_stars, order + 1) array per label."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.n_labels:
            raise ValueError(f"x must have shape (n_stars, {self.n_labels}), got {x.shape}")
        return [x[:, [k]] ** np.arange(self.order + 1) for k in range(self.n_labels)]
