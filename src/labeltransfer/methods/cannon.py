"""The Cannon: a polynomial per-pixel model of the spectrum in the labels.

Training (Ness et al. 2015; Casey et al. 2016): labels are standardised and expanded into all
monomials up to ``order``; at each pixel the coefficients are fitted by weighted least squares
with weights ``1 / (sigma_flux^2 + s^2)``, alternating with a fit of the pixel's intrinsic
scatter ``s`` by maximum likelihood. An optional L1 penalty on the non-constant coefficients
is applied through iteratively reweighted normal equations.

Test step: each star's labels are found by minimising chi-square with a Levenberg-Marquardt
iteration that runs on all stars at once (batched normal equations), started from a first
guess: a ridge regression of the labels, quadratic in the leading principal components of the
training flux and the extra labels (``cannon_solver.FirstGuess``), fitted with the model.
Where several models cover label regimes, a star is fitted by the models whose training
interval (overlap included) holds its first guess, and takes, among those whose labels for
it fall inside their own regime, the one of the highest likelihood, the lowest
``-2 ln L = chi2 + sum ln(sigma^2 + s^2)`` over its pixels (the models' intrinsic scatters
``s`` differ, and by chi-square alone the model with the larger scatter would win the stars it
fits worst); only a star that no model places inside its regime takes the highest likelihood
of all.
Extra labels (for example colours) are held fixed at their observed values. The formal
covariance is ``(J^T W J)^-1`` times the reduced chi-square. It knows the curvature of the
chi-square at the best fit, not whether the fit found the right minimum, and ranks the stars'
errors poorly; by default (``guess_disagreement``) each label's sigma adds to it, in
quadrature, the star's disagreement with the first guess, ``|label - guess|``: a second estimate
of the same labels from the same flux by another model, which disagrees most where the fit went
wrong. Those sigmas are then calibrated per label on validation stars, as every method's
(``calibration.calibrate_uncertainties``).
"""

import logging

import numpy as np
from tqdm.auto import tqdm

from .base import LabelTransferMethod, TooFewStarsError
from .cannon_diagnostics import CannonDiagnostics
from .cannon_solver import (MAX_STANDARD_LABEL, FirstGuess, Statistics, fit_scatter, levenberg_marquardt, softening, solve_symmetric,
                            transform_flux)
from .vectorizer import PolynomialVectorizer

__all__ = ["TheCannon"]

log = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 3e7
_MODEL_STATE = ("theta", "scatter", "offset", "scale")  # one per regime model
_GUESS_STATE = tuple(f"guess_{key}" for key in FirstGuess.STATE)
_STATE = (*_MODEL_STATE, "softening", *_GUESS_STATE)
_FLUX_TRANSFORMS = ("linear", "log", "asinh")
#: Added to -2 ln L of a regime model whose labels fall outside its own interval: such a model
#: is taken only where no model's labels fall inside its interval.
_OUT_OF_RANGE = 1e12


class TheCannon(CannonDiagnostics, LabelTransferMethod):
    """The Cannon with a polynomial vectorizer of any order.

    Parameters
    ----------
    order : int
        Polynomial order of the label vectorizer (2 = quadratic, all cross terms).
    extra_labels : list of str
        Auxiliary features (for example colours) used as additional labels in training and
        held fixed at their observed values in the test step.
    flux_transform : {"linear", "log", "asinh"}
        Model the flux itself, its natural logarithm (extinction and the Planck slope are then
        closer to additive; pixels with flux below 3 sigma are masked, which drops the faint
        blue end of cool stars: the pixels used depend on the star's temperature), or
        ``asinh(flux / 2b)`` with ``b`` each pixel's median flux error in the training set: the
        logarithm (up to a constant) where the flux is well above its noise, linear near zero,
        so that every pixel is used for every star and nothing depends on the labels.
    regimes : dict, optional
        ``{"label": "logg", "edges": [3.5], "overlap": 0.3}``: one model per label interval
        (each widened by ``overlap`` on both sides); the test step fits each star with the
        models whose widened interval holds its first guess and keeps, of those whose labels
        fall in their own interval, the one of highest likelihood (lowest chi-square plus the
        log-determinant of the pixel variances).
    regularization : float
        L1 penalty on the non-constant coefficients (0 for none).
    scatter_iterations : int
        Alternations between the coefficient fit and the intrinsic-scatter fit.
    clip_chi2 : float
        Where positive, each regime model is fitted twice: the training stars whose reduced
        chi-square at their own (reference) labels exceeds ``clip_chi2`` times the median of the
        training stars' are left out of the second fit (stars the model cannot describe at
        their labels: peculiar spectra, wrong labels), so that they do not pull the model.
    guess_components : int
        Principal components of the training flux in the first guess's regression (at most as
        many as the training spectra span).
    max_iter : int
        Levenberg-Marquardt iterations of the test step.
    guess_disagreement : bool
        Add each star's disagreement with its first guess to the formal sigma, in quadrature
        (chosen on the validation split of the XP library, docs/validation.md: it ranks the
        stars the fit gets wrong; where the model describes the spectra to their noise and the
        guess is the poorer estimate, the formal sigma alone is the better one).
    calibration_stars : int
        Validation stars (at most this many, drawn at random) on which the uncertainties are
        calibrated (``calibration.calibrate_uncertainties``, over the stars with each label; the
        formal errors assume independent pixels and a perfect model; 0 turns this off).
    random_state : int
        Seed of the draws of the calibration stars and of the training stars that
        :meth:`misfit_baseline` measures.

    It takes no ``threads``: numpy threads by itself.
    """

    method_type = "cannon"

    def __init__(self, *, order=2, extra_labels=(), flux_transform="linear", regimes=None,
                 regularization=0.0, scatter_iterations=3, clip_chi2=0.0, guess_components=20,
                 max_iter=40, guess_disagreement=True, calibration_stars=4000, random_state=0):
        self.order = order
        self.extra_labels = list(extra_labels)
        self.flux_transform = flux_transform
        self.regimes = regimes
        self.regularization = regularization
        self.scatter_iterations = scatter_iterations
        self.clip_chi2 = clip_chi2
        self.guess_components = guess_components
        self.max_iter = max_iter
        self.guess_disagreement = guess_disagreement
        self.calibration_stars = calibration_stars
        self.random_state = random_state

    # ------------------------------------------------------------------ training
    def _fit(self, spectra, labels, label_err, validation):
        if self.flux_transform not in _FLUX_TRANSFORMS:
            raise ValueError(f"flux_transform must be one of {', '.join(_FLUX_TRANSFORMS)}, got "
                             f"{self.flux_transform!r}")
        self.softening_ = softening(spectra) if self.flux_transform == "asinh" else np.zeros(len(spectra.wavelength))
        all_labels = np.hstack([labels, self._extra(spectra)])
        usable = np.all(np.isfinite(all_labels), axis=1)
        log.info("The Cannon: %d of %d training stars have every label (%d excluded for a "
                 "missing label)", usable.sum(), len(usable), (~usable).sum())
        flux, var = self._transformed(spectra)
        models = []
        for name, rows in self._regime_rows(all_labels, usable):
            log.info("The Cannon, %s: %d training stars", name, rows.sum())
            models.append(self._fit_one(all_labels[rows], flux[rows], var[rows], name))
        for key in _MODEL_STATE:
            setattr(self, f"{key}_", np.stack([model[key] for model in models]))
        guess = FirstGuess.fit(flux[usable], var[usable], all_labels[usable, labels.shape[1]:], labels[usable],
                               self.guess_components)
        for key in FirstGuess.STATE:
            setattr(self, f"guess_{key}_", getattr(guess, key))

    def _calibration_stars(self, spectra, labels):
        """At most ``calibration_stars`` of the validation stars, drawn at random (seeded: the sample's
        row order follows the library's, not a random one); None where ``calibration_stars`` is 0."""
        if self.calibration_stars <= 0:
            return None
        rows = np.random.default_rng(self.random_state).permutation(len(labels))[: self.calibration_stars]
        return spectra.subset(rows), labels[rows]

    def _regime_rows(self, all_labels, usable):
        """(name, rows) of the training stars of each regime."""
        if not self.regimes:
            return [("all stars", usable)]
        return [(f"{self.regimes['label']} {lo:g}..{hi:g}", usable & self._within(all_labels, lo, hi))
                for lo, hi in self._intervals(widened=True)]

    def _intervals(self, widened):
        """(lo, hi) of the regime label in each regime model: its core interval, or its training
        interval (widened by the overlap)."""
        edges = [-np.inf, *self.regimes["edges"], np.inf]
        overlap = self.regimes.get("overlap", 0.0) if widened else 0.0
        return [(lo - overlap, hi + overlap) for lo, hi in zip(edges[:-1], edges[1:])]

    def _within(self, labels, lo, hi):
        k = list(self.label_names_).index(self.regimes["label"])
        return (labels[:, k] >= lo) & (labels[:, k] < hi)

    def _in_regime(self, r, labels, widened=False):
        """Whether labels (n_stars, n_labels) fall in the core (or training) interval of regime ``r``."""
        if not self.regimes:
            return np.ones(len(labels), dtype=bool)
        return self._within(labels, *self._intervals(widened)[r])

    def _fit_one(self, all_labels, flux, var, name):
        vectorizer = self._vectorizer()
        if len(all_labels) < 2 * vectorizer.n_terms:
            raise TooFewStarsError(f"The Cannon ({name}) has {len(all_labels)} training stars with "
                             f"every label, too few for {vectorizer.n_terms} terms")
        offset, scale = all_labels.mean(axis=0), all_labels.std(axis=0)
        x = (all_labels - offset) / scale
        design = vectorizer(x)
        theta, scatter2 = self._fit_model(design, flux, var, name)
        if self.clip_chi2 > 0:
            reduced_chi2 = _chi2_per_pixel(flux - design @ theta.T, var + scatter2)
            kept = reduced_chi2 <= self.clip_chi2 * np.median(reduced_chi2)
            log.info("The Cannon, %s: %d of %d training stars beyond %g x the median reduced chi-square at "
                     "their labels left out of the second fit", name, (~kept).sum(), len(kept), self.clip_chi2)
            theta, scatter2 = self._fit_model(design[kept], flux[kept], var[kept], f"{name}, clipped")
        log.info("The Cannon, %s: median intrinsic scatter %.4f", name, np.sqrt(np.median(scatter2)))
        return {"theta": theta, "scatter": np.sqrt(scatter2), "offset": offset, "scale": scale}

    def _fit_model(self, design, flux, var, name):
        """Coefficients and intrinsic variance per pixel, alternating the two fits."""
        scatter2 = np.zeros(flux.shape[1])
        for iteration in range(self.scatter_iterations):
            theta = self._fit_coefficients(design, flux, var, scatter2, f"{name}, pass {iteration + 1}")
            scatter2 = fit_scatter(flux - design @ theta.T, var)
        return self._fit_coefficients(design, flux, var, scatter2, f"{name}, final"), scatter2

    def _extra(self, spectra):
        """The extra labels of each star, shape (n_stars, n_extra)."""
        if not self.extra_labels:
            return np.empty((len(spectra), 0))
        return spectra.select_aux(self.extra_labels).aux.astype(float)

    def _transformed(self, spectra):
        """Flux and variance in the modelled space (``inf`` variance marks a masked pixel)."""
        return transform_flux(spectra, self.flux_transform,
                              self.softening_ if self.flux_transform == "asinh" else None)

    def _vectorizer(self):
        return PolynomialVectorizer(len(self.label_names_) + len(self.extra_labels), self.order)

    def _fit_coefficients(self, design, flux, var, scatter2, desc):
        """Weighted least squares at every pixel, with L1 by reweighted normal equations."""
        n_stars, n_terms = design.shape
        normal = np.zeros((flux.shape[1], n_terms * n_terms))
        rhs = np.zeros((flux.shape[1], n_terms))
        chunk = max(64, int(_CHUNK_ELEMENTS // (n_terms * n_terms)))
        for lo in tqdm(range(0, n_stars, chunk), desc=f"Cannon coefficients ({desc})",
                       unit="chunk", mininterval=2.0):
            rows = slice(lo, lo + chunk)
            weight = 1.0 / (var[rows] + scatter2)
            outer = (design[rows, :, None] * design[rows, None, :]).reshape(-1, n_terms * n_terms)
            normal += weight.T @ outer
            rhs += (weight * flux[rows]).T @ design[rows]
        normal = normal.reshape(-1, n_terms, n_terms)
        theta = solve_symmetric(normal, rhs)
        if self.regularization > 0:
            for _ in range(5):
                penalty = self.regularization / (2 * np.maximum(np.abs(theta), 1e-8))
                penalty[:, 0] = 0.0
                theta = solve_symmetric(normal + penalty[:, :, None] * np.eye(n_terms), rhs)
        return theta

    # ------------------------------------------------------------------ test step
    def _predict(self, spectra):
        """Labels and 1-sigma uncertainties before calibration: the formal sigma, and the
        disagreement with the first guess added in quadrature (``guess_disagreement``)."""
        labels, formal, _, guess = self._best_fits(spectra)
        if not self.guess_disagreement:
            return labels, formal
        return labels, np.sqrt(formal ** 2 + np.nan_to_num(labels - guess) ** 2)

    def _best_fits(self, spectra):
        """Labels, formal 1-sigma uncertainties and the reduced chi-square of each star's best
        model, and its first guess."""
        n_labels = len(self.label_names_)
        extra = self._extra(spectra)
        has_extra = np.all(np.isfinite(extra), axis=1)
        if (~has_extra).any():
            log.warning("The Cannon: %d stars miss an extra label (%s); those are fitted too",
                        (~has_extra).sum(), ", ".join(self.extra_labels))
        flux, var = self._transformed(spectra)
        guess = self.first_guess(flux, var, extra)
        labels = np.full((len(spectra), n_labels), np.nan)
        sigma = np.full_like(labels, np.nan)
        reduced_chi2 = np.full(len(spectra), np.nan)
        best = np.full(len(spectra), np.inf)
        for r in range(len(self.theta_)):
            fitted = self._in_regime(r, guess, widened=True)
            for rows, n_free in ((fitted & has_extra, n_labels), (fitted & ~has_extra, n_labels + extra.shape[1])):
                if not rows.any():
                    continue
                idx = np.flatnonzero(rows)
                x, cov, neg2_log_likelihood, reduced = self._infer(r, flux[idx], var[idx],
                                                                   self._start(r, guess[idx], extra[idx]), n_free)
                star_labels = x[:, :n_labels] * self.scale_[r, :n_labels] + self.offset_[r, :n_labels]
                key = neg2_log_likelihood + _OUT_OF_RANGE * ~self._in_regime(r, star_labels)
                better = key < best[idx]
                take = idx[better]
                best[take] = key[better]
                labels[take] = star_labels[better]
                reduced_chi2[take] = reduced[better]
                sigma[take] = (np.sqrt(np.diagonal(cov[better], axis1=1, axis2=2)[:, :n_labels])
                               * self.scale_[r, :n_labels])
        return labels, sigma, reduced_chi2, guess

    def first_guess(self, flux, var, extra):
        """The test step's starting labels (``FirstGuess``) of stars' modelled flux and variance and
        extra labels, shape (n_stars, n_labels)."""
        return FirstGuess(**{key: getattr(self, f"guess_{key}_") for key in FirstGuess.STATE})(flux, var, extra)

    def _start(self, r, guess, extra):
        """Standardised starting labels of model ``r``: the first guess and the extra labels (a missing
        one at the training mean), within the test step's bound."""
        x = (np.hstack([guess, extra]) - self.offset_[r]) / self.scale_[r]
        return np.clip(np.nan_to_num(x), -MAX_STANDARD_LABEL, MAX_STANDARD_LABEL)

    def _infer(self, r, flux, var, start, n_free):
        """Best-fitting standardised labels, covariances, -2 ln L (up to a constant) and reduced
        chi-square with model ``r``, from standardised ``start`` labels (the first ``n_free`` move)."""
        vectorizer = self._vectorizer()
        free, mapping = vectorizer.held(n_free)
        n_stars = len(flux)
        x_best = np.empty((n_stars, vectorizer.n_labels))
        cov_best = np.empty((n_stars, n_free, n_free))
        neg2_log_likelihood, reduced_chi2 = np.empty(n_stars), np.empty(n_stars)
        chunk = int(np.clip(_CHUNK_ELEMENTS / vectorizer.n_terms ** 2, 64, 4096))
        bar = tqdm(total=n_stars, desc=f"Cannon test step (model {r + 1} of {len(self.theta_)})",
                   unit="star", mininterval=2.0)
        for lo in range(0, n_stars, chunk):
            hi = min(lo + chunk, n_stars)
            ivar = 1.0 / (var[lo:hi] + self.scatter_[r] ** 2)
            stats = Statistics.of(self.theta_[r], flux[lo:hi], ivar)
            # the held (extra) labels folded into the statistics: the iteration sees the free labels' terms only
            stats = stats.holding(vectorizer.held_factors(start[lo:hi, n_free:]), mapping)
            x, chi2, hessian = levenberg_marquardt(free, stats, start[lo:hi, :n_free].copy(), n_free, self.max_iter)
            x = np.hstack([x, start[lo:hi, n_free:]])
            reduced = chi2 / np.maximum(np.count_nonzero(ivar > 0, axis=1) - n_free, 1)
            x_best[lo:hi], cov_best[lo:hi], reduced_chi2[lo:hi] = x, np.linalg.pinv(hessian) * reduced[:, None, None], reduced
            neg2_log_likelihood[lo:hi] = chi2 - np.sum(np.log(ivar, out=np.zeros_like(ivar), where=ivar > 0), axis=1)
            bar.update(hi - lo)
        bar.close()
        return x_best, cov_best, neg2_log_likelihood, reduced_chi2

    # ------------------------------------------------------------------ persistence
    def _get_state(self):
        return {key: getattr(self, f"{key}_") for key in _STATE}

    def _set_state(self, arrays):
        for key in _STATE:
            setattr(self, f"{key}_", arrays[key])


def _chi2_per_pixel(residual, variance):
    """Chi-square per used pixel of each star (rows), masked pixels (infinite variance) left out."""
    used = np.isfinite(variance)
    chi2 = np.sum(np.where(used, residual ** 2 / np.where(used, variance, 1.0), 0.0), axis=1)
    return chi2 / np.maximum(used.sum(axis=1), 1)
