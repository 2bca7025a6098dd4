"""Noise with each Gaia XP source's own pixel-to-pixel correlations: what a fainter observation of
the same source would add (the S/N ladder of the Gaia XP archive tasks).

A source's flux covariance on a grid is ``D C D^T``, ``D`` the design matrix of the XP basis on
that grid and ``C`` the coefficients' covariance (:mod:`labeltransfer.xp.basis`); with ``L L^T =
C``, ``D L z`` for standard normal ``z`` is noise with that covariance. Only numpy is needed
here: the design matrix travels in the model's file.
"""

import numpy as np
import pandas as pd

__all__ = ["XPNoise"]


class XPNoise:
    """Noise with the pixel-to-pixel correlation of each source's own XP flux covariance.

    Parameters
    ----------
    design : ndarray, shape (n_pixels, 110)
        ``design_matrix`` of the spectra's grid.
    factors : ndarray, shape (n_sources, 110, 110)
        Each source's coefficient covariance factor ``L`` (``L L^T = C``; zero rows for a
        missing band).
    """

    def __init__(self, design, factors):
        self.design = np.asarray(design, dtype=float)
        self.factors = np.asarray(factors, dtype=float)

    @classmethod
    def from_covariances(cls, design, covariances):
        """From each source's coefficient covariance (n_sources, 110, 110): their Cholesky factors
        (from the eigen-decomposition where a covariance is only semi-definite, as with a missing band)."""
        factors = np.empty_like(np.asarray(covariances, dtype=float))
        for i, covariance in enumerate(covariances):
            try:
                factors[i] = np.linalg.cholesky(covariance)
            except np.linalg.LinAlgError:
                values, vectors = np.linalg.eigh(covariance)
                factors[i] = vectors * np.sqrt(np.clip(values, 0.0, None))
        return cls(design, factors)

    def __len__(self):
        return len(self.factors)

    def save(self, path, source_id):
        """Write the model, its sources' ``source_id`` (one per factor) and the design to ``.npz``."""
        np.savez(path, source_id=np.asarray(source_id, dtype=np.int64), design=self.design,
                 factors=self.factors.astype(np.float32))

    @classmethod
    def load(cls, path, source_ids):
        """The noise model of the sources ``source_ids`` (in that order) from a file of ``save``; a
        source the file lacks stops with its ID and the file named."""
        with np.load(path) as saved:
            position = pd.Index(saved["source_id"]).get_indexer(np.asarray(source_ids, dtype=np.int64))
            if (position < 0).any():
                raise KeyError(f"{path}: no XP noise model for {(position < 0).sum()} sources "
                               f"(e.g. {np.asarray(source_ids)[position < 0][:3].tolist()})")
            return cls(saved["design"], saved["factors"][position].astype(float))

    def subset(self, rows):
        """The noise model of the sources selected by ``rows``."""
        return XPNoise(self.design, self.factors[rows])

    def flux_error(self):
        """Each source's flux error per pixel, in the archive's flux units (gaiaxpy's ``flux_error``
        where both bands are present), shape (n_sources, n_pixels)."""
        return np.sqrt(np.sum((self.design @ self.factors) ** 2, axis=2))

    def unit_noise(self, rng):
        """One noise spectrum per source with its pixels correlated as its XP flux covariance says and
        unit variance in every pixel (0 where the covariance has none), shape (n_sources, n_pixels):
        multiplied by a spectrum's errors, noise with that spectrum's own correlations."""
        unit = rng.standard_normal((len(self), self.design.shape[1]))
        noise = (self.factors @ unit[:, :, None])[:, :, 0] @ self.design.T
        error = self.flux_error()
        return np.divide(noise, error, out=np.zeros_like(noise), where=error > 0)
