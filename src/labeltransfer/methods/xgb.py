"""Gradient-boosted trees (XGBoost), one regressor per label, in the spirit of Andrae et al. 2023.

Features are the flux pixels followed by the auxiliary features (missing values, such as an
absent parallax, are handled natively by the trees). For each label, stars whose reference
label is missing are left out of that label's fit. Two boosters per label:

- the point estimate, squared error, early-stopped on the validation set;
- the uncertainty, a quantile regression of the 15.87th and 84.13th percentiles
  (``reg:quantileerror``), early-stopped the same way; the per-star 1-sigma uncertainty is
  half the distance between them (the error of a Gaussian would give exactly that), calibrated
  per label on the validation split, as every method's is (``calibration.calibrate_uncertainties``).
"""

import logging

import numpy as np
import xgboost as xgb
from tqdm.auto import tqdm

from .base import LabelTransferMethod

__all__ = ["XGBoostRegressor", "sigma_from_quantiles"]

log = logging.getLogger(__name__)

_QUANTILES = [0.158655, 0.841345]


class XGBoostRegressor(LabelTransferMethod):
    """One XGBoost regressor per label with quantile-regression uncertainties.

    Parameters
    ----------
    n_estimators : int
        Maximum boosting rounds (early stopping usually ends sooner).
    learning_rate, max_depth, subsample, colsample_bytree, min_child_weight, reg_lambda, max_bin :
        XGBoost's parameters of the same names.
    early_stopping_rounds : int
        Rounds without improvement on the validation set before stopping.
    uncertainty_estimators : int
        Maximum rounds of the quantile booster.
    device : str
        ``"cpu"`` or ``"cuda"``.
    threads : int
        CPU threads (the workflow sets the job's).
    random_state : int
        Seed of the row and column subsampling.
    """

    method_type = "xgboost"

    def __init__(self, *, n_estimators=2000, learning_rate=0.05, max_depth=6, subsample=0.8,
                 colsample_bytree=0.5, min_child_weight=1.0, reg_lambda=1.0, max_bin=256,
                 early_stopping_rounds=50, uncertainty_estimators=500, device="cpu", threads=1,
                 random_state=0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.uncertainty_estimators = uncertainty_estimators
        self.device = device
        self.threads = threads
        self.random_state = random_state

    def _booster_params(self):
        return {
            "tree_method": "hist", "device": self.device, "nthread": self.threads,
            "learning_rate": self.learning_rate, "max_depth": self.max_depth,
            "subsample": self.subsample, "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight, "reg_lambda": self.reg_lambda,
            "max_bin": self.max_bin,
            "seed": self.random_state,
        }

    def _fit(self, spectra, labels, label_err, validation):
        if validation is None:
            raise ValueError("XGBoost needs a validation set for early stopping")
        val_spectra, val_labels, _ = validation
        train_x, val_x = _features(spectra), _features(val_spectra)
        params = self._booster_params()
        self.boosters_, self.quantile_boosters_ = [], []
        for k, name in enumerate(self.label_names_):
            rows, val_rows = np.isfinite(labels[:, k]), np.isfinite(val_labels[:, k])
            log.info("XGBoost %s: %d training stars (%d masked), %d validation stars",
                     name, rows.sum(), (~rows).sum(), val_rows.sum())
            dtrain = xgb.QuantileDMatrix(train_x[rows], labels[rows, k], max_bin=self.max_bin)
            dval = xgb.QuantileDMatrix(val_x[val_rows], val_labels[val_rows, k], ref=dtrain,
                                       max_bin=self.max_bin)
            point = self._train(dict(params, objective="reg:squarederror"), dtrain, dval,
                                self.n_estimators, f"XGBoost {name}")
            spread = self._train(
                dict(params, objective="reg:quantileerror", quantile_alpha=np.array(_QUANTILES)),
                dtrain, dval, self.uncertainty_estimators, f"XGBoost {name} quantiles")
            self.boosters_.append(point)
            self.quantile_boosters_.append(spread)

    def _train(self, params, dtrain, dval, rounds, desc):
        bar = _ProgressBar(rounds, desc)
        booster = xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dval, "validation")],
                            early_stopping_rounds=self.early_stopping_rounds, verbose_eval=False,
                            callbacks=[bar])
        bar.close()
        log.info("%s: best iteration %d, validation %s", desc, booster.best_iteration,
                 booster.best_score)
        return booster

    def _predict(self, spectra):
        features = xgb.DMatrix(_features(spectra))
        labels = np.empty((len(spectra), len(self.label_names_)))
        sigma = np.empty_like(labels)
        for k, (point, spread) in enumerate(zip(self.boosters_, self.quantile_boosters_)):
            for booster in (point, spread):
                booster.set_param({"nthread": self.threads, "device": self.device})
            labels[:, k] = point.predict(features, iteration_range=(0, point.best_iteration + 1))
            quantiles = spread.predict(features, iteration_range=(0, spread.best_iteration + 1))
            sigma[:, k] = sigma_from_quantiles(quantiles)
        return labels, sigma

    influence_kind = "SHAP contribution"

    def flux_influence(self, spectra):
        """Each pixel's SHAP contribution (exact TreeSHAP) to each label's point estimate, label
        units, shape (n_stars, n_pixels, n_labels); the auxiliary features' contributions and the
        bias term are left out."""
        self._check_fitted()
        features = xgb.DMatrix(_features(spectra))
        n_pixels = len(spectra.wavelength)
        influence = np.empty((len(spectra), n_pixels, len(self.label_names_)))
        for k, point in enumerate(self.boosters_):
            point.set_param({"nthread": self.threads, "device": self.device})
            contributions = point.predict(features, pred_contribs=True, iteration_range=(0, point.best_iteration + 1))
            influence[:, :, k] = contributions[:, :n_pixels]
        return influence

    def _get_state(self):
        state = {}
        for k, (point, spread) in enumerate(zip(self.boosters_, self.quantile_boosters_)):
            state[f"booster_{k}"] = _to_bytes(point)
            state[f"quantile_booster_{k}"] = _to_bytes(spread)
        return state

    def _set_state(self, arrays):
        n = len(self.label_names_)
        self.boosters_ = [_from_bytes(arrays[f"booster_{k}"]) for k in range(n)]
        self.quantile_boosters_ = [_from_bytes(arrays[f"quantile_booster_{k}"]) for k in range(n)]


def sigma_from_quantiles(quantiles):
    """1-sigma from the 15.9th and 84.1st percentiles, shape (n_stars, 2) -> (n_stars,).

    Where the two boosters cross (about 1% of stars), the quantiles are sorted first
    (rearrangement, Chernozhukov et al. 2010), so the width stays positive.
    """
    return 0.5 * np.abs(quantiles[:, 1] - quantiles[:, 0])


def _features(spectra):
    """Flux pixels then auxiliary features, shape (n_stars, n_pixels + n_aux), float32."""
    return np.hstack([spectra.masked_flux(), spectra.aux]).astype(np.float32)


def _to_bytes(booster):
    """A booster as a uint8 array (its UBJSON serialisation), best iteration kept."""
    booster.set_attr(best_iteration=str(booster.best_iteration))
    return np.frombuffer(booster.save_raw("ubj"), dtype=np.uint8)


def _from_bytes(array):
    booster = xgb.Booster()
    booster.load_model(bytearray(array.tobytes()))
    return booster


class _ProgressBar(xgb.callback.TrainingCallback):
    """A tqdm bar over boosting rounds."""

    def __init__(self, rounds, desc):
        super().__init__()
        self._bar = tqdm(total=rounds, desc=desc, unit="round", mininterval=2.0)

    def after_iteration(self, model, epoch, evals_log):
        self._bar.update(1)
        return False

    def close(self):
        self._bar.close()
