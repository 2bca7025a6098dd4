"""Noise with Gaia XP's pixel-to-pixel correlations: what a fainter observation of the same source
would add (the S/N ladder), and the one noise model that the ladder and the information bound share.

A source's flux covariance on a grid is ``D C D^T``, ``D`` the design matrix of the XP basis on
that grid and ``C`` the coefficients' covariance (:mod:`labeltransfer.xp.basis`); with ``L L^T =
C``, ``D L z`` for standard normal ``z`` is noise with that covariance. ``C`` is each source's own
(a Gaia XP archive task) or one template for every source (the library's sampled spectra, which
come with pixel errors only: :func:`labeltransfer.xp.covariance_template.template_factor`). Either
way the noise is then rescaled pixel by pixel to the errors wanted (:func:`pixel_scale`): its
correlations are the covariance's, each pixel's variance is the one asked for. Only numpy is needed
here: the design matrix travels in the model's file.
"""

import numpy as np
import pandas as pd

__all__ = ["XPNoise", "pixel_scale"]

#: Sources whose flux errors are computed at a time (bounds the memory: sources x pixels x 110 floats).
_CHUNK = 256


def pixel_scale(noise_error, pixel_error, sources=None):
    """The factor, per pixel, that turns noise of per-pixel error ``noise_error`` into noise of error
    ``pixel_error`` with the same correlations: ``S`` in ``S D L L^T D^T S`` (:mod:`labeltransfer.xp.noise`).

    Parameters
    ----------
    noise_error : ndarray, shape (n_pixels,) or (n_sources, n_pixels)
        The XP noise's own error per pixel (``sqrt(diag(D L L^T D^T))``).
    pixel_error : ndarray, shape (n_sources, n_pixels)
        The error wanted per pixel; 0 (or not finite): no noise there.
    sources : ndarray, shape (n_sources,), optional
        What the rows are called in an error message (default their positions).

    Returns
    -------
    ndarray, shape (n_sources, n_pixels)

    Raises
    ------
    ValueError
        A pixel that is to have noise where the covariance gives none (a missing band's pixel left
        unmasked), naming the first such sources.
    """
    pixel_error = np.asarray(pixel_error, dtype=float)
    noise_error = np.broadcast_to(noise_error, pixel_error.shape)
    wanted = np.isfinite(pixel_error) & (pixel_error > 0)
    if np.any(silent := np.any(wanted & (noise_error <= 0), axis=1)):
        names = np.arange(len(pixel_error)) if sources is None else np.asarray(sources)
        raise ValueError(f"sources {names[silent][:3].tolist()}: a pixel with an error to which the XP "
                         "covariance gives no noise (a missing band's pixel left unmasked): mask it (error inf)")
    return np.divide(pixel_error, noise_error, out=np.zeros_like(pixel_error), where=wanted)


class XPNoise:
    """Noise with the pixel-to-pixel correlation of an XP flux covariance: each source's own, or one
    template for every source.

    Parameters
    ----------
    design : ndarray, shape (n_pixels, 110)
        ``design_matrix`` of the spectra's grid.
    factors : ndarray, shape (n_sources, 110, 110) or (110, 110)
        Each source's coefficient covariance factor ``L`` (``L L^T = C``; zero rows for a
        missing band), or one factor for every source (a template: then the model has no length).
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
        if self.factors.ndim == 2:
            raise TypeError("a template XPNoise serves any number of sources: it has no length")
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
        """The noise model of the sources selected by ``rows`` (a template: itself)."""
        return self if self.factors.ndim == 2 else XPNoise(self.design, self.factors[rows])

    def flux_error(self):
        """Each source's flux error per pixel, in the archive's flux units (gaiaxpy's ``flux_error``
        where both bands are present), shape (n_sources, n_pixels), or (n_pixels,) for a template."""
        if self.factors.ndim == 2:
            return np.sqrt(np.sum((self.design @ self.factors) ** 2, axis=1))
        return np.concatenate([np.sqrt(np.sum((self.design @ self.factors[chunk]) ** 2, axis=2))
                               for chunk in np.array_split(np.arange(len(self)), max(1, -(-len(self) // _CHUNK)))])

    def draw(self, rng, pixel_error):
        """Noise spectra with the covariance's pixel-to-pixel correlations and error ``pixel_error``.

        Parameters
        ----------
        rng : numpy.random.Generator
        pixel_error : ndarray, shape (n_sources, n_pixels)
            Each pixel's error (0 or not finite: no noise there); one row per source of the model
            (any number for a template).

        Returns
        -------
        ndarray, shape (n_sources, n_pixels)
            ``S D L z``, ``z`` standard normal, ``S`` of :func:`pixel_scale`: covariance
            ``S D L L^T D^T S``, whose diagonal is ``pixel_error ** 2``.
        """
        pixel_error = np.asarray(pixel_error, dtype=float)
        unit = rng.standard_normal((len(pixel_error), self.design.shape[1]))
        coefficients = unit @ self.factors.T if self.factors.ndim == 2 else (self.factors @ unit[:, :, None])[:, :, 0]
        return (coefficients @ self.design.T) * pixel_scale(self.flux_error(), pixel_error)

    def unit_noise(self, rng):
        """One noise spectrum per source with its pixels correlated as its XP flux covariance says and
        unit variance in every pixel (0 where the covariance has none), shape (n_sources, n_pixels):
        multiplied by a spectrum's errors, noise with that spectrum's own correlations."""
        error = self.flux_error()
        return self.draw(rng, np.broadcast_to(error > 0, (len(self), error.shape[-1])).astype(float))
