"""The Cannon's numerics: the flux transforms, the per-pixel scatter fit, per-star sufficient
statistics of chi-square, and the Levenberg-Marquardt test step of many stars at once."""

import numpy as np

__all__ = ["softening", "transform_flux", "model_to_flux", "solve_symmetric", "fit_scatter", "FirstGuess", "Statistics",
           "levenberg_marquardt"]

#: Intrinsic scatters tried by ``fit_scatter`` (then refined by a parabola).
SCATTER_GRID = np.concatenate([[0.0], np.logspace(-5, 0, 51)])
#: Bound of the standardised labels in the test step (6 training standard deviations).
MAX_STANDARD_LABEL = 6.0


def softening(spectra):
    """Each pixel's median flux error over the training stars (the asinh transform's ``b``)."""
    err = np.where(np.isfinite(spectra.flux_error), spectra.flux_error, np.nan)
    median = np.nanmedian(err, axis=0)
    return np.where(np.isfinite(median) & (median > 0), median, np.nanmedian(median))


def transform_flux(spectra, transform, softening_flux):
    """Flux and variance in the modelled space (``inf`` variance marks a masked pixel).

    ``transform``: ``"linear"``, ``"log"`` (pixels with flux below 3 sigma masked) or
    ``"asinh"`` (``asinh(flux / 2b)``, ``b`` = ``softening_flux``, each pixel's; the other
    transforms do not read it).
    """
    flux = np.asarray(spectra.flux, dtype=float)
    err = np.asarray(spectra.flux_error, dtype=float)
    if transform == "linear":
        return flux, err ** 2
    if transform == "asinh":
        usable = np.isfinite(err)
        scaled = 2 * softening_flux
        return (np.where(usable, np.arcsinh(flux / scaled), 0.0),
                np.where(usable, err ** 2 / (scaled ** 2 + flux ** 2), np.inf))
    usable = np.isfinite(err) & (flux > 3 * err)
    safe = np.where(usable, flux, 1.0)
    return np.where(usable, np.log(safe), 0.0), np.where(usable, (err / safe) ** 2, np.inf)


def model_to_flux(values, transform, softening_flux):
    """Values in the modelled space back in flux units (the inverse of ``transform_flux``'s flux)."""
    if transform == "linear":
        return values
    if transform == "asinh":
        return 2 * softening_flux * np.sinh(values)
    return np.exp(values)


def solve_symmetric(matrix, rhs):
    """Solve positive (semi-)definite systems (stacked), least squares where singular."""
    try:
        return np.linalg.solve(matrix, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(m, b, rcond=None)[0] for m, b in zip(matrix, rhs)])


def fit_scatter(resid, var):
    """Maximum-likelihood intrinsic scatter squared per pixel, shape (n_pixels,).

    Minimises ``sum_n r^2 / (var + s^2) + ln(var + s^2)`` on a log grid of ``s`` refined by a
    parabola through the grid minimum.
    """
    good = np.isfinite(var)
    r2 = np.where(good, resid ** 2, 0.0)
    var = np.where(good, var, 1.0)
    cost = np.empty((len(SCATTER_GRID), resid.shape[1]))
    for i, s in enumerate(SCATTER_GRID):
        total = var + s * s
        cost[i] = np.sum(np.where(good, r2 / total + np.log(total), 0.0), axis=0)
    best = np.argmin(cost, axis=0)
    inner = np.clip(best, 1, len(SCATTER_GRID) - 2)
    log_grid = np.log10(np.maximum(SCATTER_GRID, 1e-6))
    cols = np.arange(resid.shape[1])
    c0, c1, c2 = cost[inner - 1, cols], cost[inner, cols], cost[inner + 1, cols]
    denom = c0 - 2 * c1 + c2
    step = log_grid[inner + 1] - log_grid[inner]
    shift = np.where(denom > 0, 0.5 * (c0 - c2) / np.where(denom > 0, denom, 1.0), 0.0)
    refined = 10 ** (log_grid[inner] + np.clip(shift, -1, 1) * step)
    scatter = np.where((best >= 2) & (best <= len(SCATTER_GRID) - 2), refined, SCATTER_GRID[best])
    return scatter ** 2


class FirstGuess:
    """The test step's starting point: a ridge regression of the labels, quadratic in the leading
    whitened principal components of the (transformed) training flux and the extra labels.

    One matrix product per star, a few hundred times cheaper than the test step it starts;
    masked pixels and missing extra labels take the training mean.
    """

    #: Ridge penalty per training star on the (unit-variance) features.
    RIDGE = 1e-3
    STATE = ("pixel_mean", "pixel_scale", "components", "extra_mean", "extra_scale", "coefficients")

    def __init__(self, **arrays):
        for key in self.STATE:
            setattr(self, key, arrays[key])

    @classmethod
    def fit(cls, flux, var, extra, labels, n_components):
        """Fit on training stars: modelled flux and variance (n, n_pixels), extra labels (n, n_extra),
        labels (n, n_labels), every one finite."""
        masked = np.where(np.isfinite(var), flux, np.nan)
        pixel_mean = np.nanmean(masked, axis=0)
        pixel_scale = np.nanstd(masked, axis=0)
        pixel_scale = np.where(pixel_scale > 0, pixel_scale, 1.0)
        standard = np.nan_to_num((masked - pixel_mean) / pixel_scale)
        _, values, vectors = np.linalg.svd(standard, full_matrices=False)
        n_components = min(n_components, int(np.sum(values > 1e-6 * values[0])))
        extra_scale = extra.std(axis=0)
        guess = cls(pixel_mean=pixel_mean, pixel_scale=pixel_scale,
                    components=vectors[:n_components] / (values[:n_components, None] / np.sqrt(len(flux))),
                    extra_mean=extra.mean(axis=0), extra_scale=np.where(extra_scale > 0, extra_scale, 1.0),
                    coefficients=None)
        features = guess._features(flux, var, extra)
        normal = features.T @ features + cls.RIDGE * len(features) * np.eye(features.shape[1])
        guess.coefficients = np.linalg.solve(normal, features.T @ labels)
        return guess

    def __call__(self, flux, var, extra):
        """The first guess of the labels, shape (n_stars, n_labels)."""
        return self._features(flux, var, extra) @ self.coefficients

    def _features(self, flux, var, extra):
        """[1, z, z_i z_j (i <= j)] with z the whitened components and the standardised extra labels."""
        standard = np.nan_to_num((np.where(np.isfinite(var), flux, np.nan) - self.pixel_mean) / self.pixel_scale)
        z = np.hstack([standard @ self.components.T, np.nan_to_num((extra - self.extra_mean) / self.extra_scale)])
        upper = np.triu_indices(z.shape[1])
        return np.hstack([np.ones((len(z), 1)), z, (z[:, :, None] * z[:, None, :])[:, upper[0], upper[1]]])


class Statistics:
    """Per-star sums that make chi-square cost O(n_terms^2) instead of O(n_pixels n_terms).

    With the model ``theta @ v`` and weights ``w``: ``chi2(v) = norm - 2 v.proj + v.gram.v``,
    where ``gram = theta^T W theta``, ``proj = theta^T W f`` and ``norm = f^T W f``.
    """

    def __init__(self, gram, proj, norm):
        self.gram, self.proj, self.norm = gram, proj, norm

    @classmethod
    def of(cls, theta, flux, ivar):
        """Statistics of ``n`` stars' flux and inverse variance, shape (n, n_pixels)."""
        n_pixels, n_terms = theta.shape
        outer = (theta[:, :, None] * theta[:, None, :]).reshape(n_pixels, n_terms * n_terms)
        gram = (ivar @ outer).reshape(len(flux), n_terms, n_terms)
        return cls(gram, (flux * ivar) @ theta, np.sum(flux * flux * ivar, axis=1))

    def holding(self, factors, mapping):
        """The statistics over the free labels' monomials (``PolynomialVectorizer.held``), the held
        labels entering through each star's term ``factors`` (n, n_terms) and the 0/1 ``mapping``."""
        n_stars, n_terms = factors.shape
        scaled = self.gram * factors[:, :, None] * factors[:, None, :]
        half = (scaled.reshape(-1, n_terms) @ mapping).reshape(n_stars, n_terms, -1)
        gram = np.matmul(mapping.T, half)
        return Statistics(gram, (self.proj * factors) @ mapping, self.norm)

    def chi2(self, terms, rows=slice(None)):
        """Chi-square of term vectors ``terms`` (n, n_terms) and ``gram @ terms``."""
        gram_terms = np.einsum("ntu,nu->nt", self.gram[rows], terms)
        chi2 = self.norm[rows] - 2 * np.sum(terms * self.proj[rows], axis=1) + np.sum(terms * gram_terms, axis=1)
        return chi2, gram_terms

    def normal_equations(self, dterms, gram_terms, rows=slice(None)):
        """``J^T W J`` (n, k, k) and ``J^T W r`` (n, k) from term derivatives (n, n_terms, k)."""
        dterms_t = dterms.transpose(0, 2, 1)
        hess = np.matmul(dterms_t, np.matmul(self.gram[rows], dterms))
        grad = np.matmul(dterms_t, (self.proj[rows] - gram_terms)[:, :, None])[:, :, 0]
        return hess, grad


def levenberg_marquardt(vectorizer, stats, x, n_free, max_iter, tol=1e-2, step_tol=1e-4):
    """Batched Levenberg-Marquardt over stars; only the first ``n_free`` labels move.

    A star stops when an accepted step improves its chi-square by less than ``tol`` (a
    negligible fraction of the Delta chi2 = 1 of a 1-sigma change), when its step is below
    ``step_tol`` (standardised units), or after ``max_iter`` iterations. Returns the final
    labels, chi-square and the Gauss-Newton Hessian ``J^T W J`` of each star.
    """
    damping = np.full(len(x), 1e-3)
    chi2, gram_terms = stats.chi2(vectorizer(x))
    active = np.ones(len(x), dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        hess, grad = stats.normal_equations(vectorizer.jacobian(x[idx])[:, :, :n_free],
                                            gram_terms[idx], idx)
        diag = np.einsum("nkk->nk", hess)
        damped = hess + damping[idx, None, None] * np.eye(n_free) * (diag[:, :, None] + 1e-12)
        step = np.linalg.solve(damped, grad[:, :, None])[:, :, 0]
        trial = x[idx].copy()
        trial[:, :n_free] = np.clip(trial[:, :n_free] + step, -MAX_STANDARD_LABEL, MAX_STANDARD_LABEL)
        chi2_trial, gram_trial = stats.chi2(vectorizer(trial), idx)
        better = chi2_trial < chi2[idx]
        gain = np.where(better, chi2[idx] - chi2_trial, 0.0)
        moved = idx[better]
        x[moved], chi2[moved], gram_terms[moved] = trial[better], chi2_trial[better], gram_trial[better]
        damping[idx] = np.where(better, damping[idx] / 10, damping[idx] * 10)
        small_step = np.max(np.abs(step), axis=1) < step_tol
        done = (better & (gain < tol)) | small_step | (damping[idx] > 1e8)
        active[idx[done]] = False
    hessian, _ = stats.normal_equations(vectorizer.jacobian(x)[:, :, :n_free], gram_terms)
    return x, chi2, hessian
