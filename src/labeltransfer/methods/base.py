"""The interface every label-transfer method implements, and its save/load format.

A method is fitted on training spectra with reference labels, their 1-sigma errors and
missing labels as NaN (masked out of the fit); it predicts labels with per-star 1-sigma
uncertainties. A saved model is one ``.npz`` file: the method's arrays plus a JSON header
with the method type, its hyper-parameters, the label names, the auxiliary feature names and
the pixel grid it was trained on, which ``load`` checks against the data it is given, the
package version (``load`` warns when it differs from the running one), and its
``provenance`` (set by whoever trains it: the workflow records the fingerprints of the sample
and split and the run's seed, and refuses to use a model whose provenance is another run's).
"""

import inspect
import json
import logging
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .. import __version__
from .calibration import calibrate_uncertainties, calibrated, no_calibration

__all__ = ["LabelTransferMethod", "NotFittedError", "IncompatibleDataError", "TooFewStarsError"]

log = logging.getLogger(__name__)


class NotFittedError(RuntimeError):
    """Raised when predict or save is called before fit."""


class IncompatibleDataError(ValueError):
    """Raised when spectra do not match the grid or features a model was trained on."""


class TooFewStarsError(ValueError):
    """Raised by ``fit`` when there are too few training stars for the model's parameters."""


class LabelTransferMethod:
    """Base class: hyper-parameters in ``__init__``, learned state (trailing ``_``) in ``fit``.

    Subclasses set ``method_type``, implement ``_fit``, ``_predict`` (labels and the method's
    own, uncalibrated sigma), ``_get_state`` and ``_set_state``, and take every hyper-parameter
    as an explicit keyword of ``__init__`` (no ``**kwargs``: ``get_params`` reads the signature),
    stored under the same attribute name. A method that runs threads of its own takes ``threads``
    (CPU threads, like scikit-learn's ``n_jobs``), one that can run on a GPU ``device``, one that
    draws random numbers ``random_state``; a job sets the first two
    (:func:`labeltransfer.methods.device.set_for_job`). ``fit`` calibrates the uncertainties on
    the validation stars after ``_fit`` (``_calibration_stars`` says which of them); ``predict``
    applies that calibration, and ``save``/``load`` keep it.
    """

    method_type = None

    @classmethod
    def param_names(cls):
        """The names of the ``__init__`` arguments, in the order of its signature."""
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in parameters):
            raise TypeError(f"{cls.__name__}.__init__ takes *args or **kwargs: name every parameter")
        return [p.name for p in parameters]

    def get_params(self):
        """The hyper-parameters, as given to ``__init__``."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params):
        """Set ``__init__`` arguments (a job's ``threads`` and ``device``); return self."""
        unknown = sorted(set(params) - set(self.get_params()))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter(s) {unknown}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def fit(self, spectra, labels, label_err, label_names, validation=None):
        """Fit the method.

        Parameters
        ----------
        spectra : Spectra
            Training spectra, ``n_stars`` of them.
        labels, label_err : ndarray, shape (n_stars, n_labels)
            Reference labels and their 1-sigma errors; NaN marks a missing (masked) label.
        label_names : sequence of str
        validation : tuple (Spectra, labels, label_err), optional
            Held-out set for early stopping and the calibration of the uncertainties (without
            it, the method's own sigma stands).

        Returns
        -------
        self
        """
        labels = np.asarray(labels, dtype=float)
        label_err = np.asarray(label_err, dtype=float)
        if labels.shape != (len(spectra), len(label_names)) or label_err.shape != labels.shape:
            raise ValueError(
                f"labels {labels.shape} and label_err {label_err.shape} must both be "
                f"({len(spectra)}, {len(label_names)})"
            )
        _check_finite_features(spectra, "training")
        self.label_names_ = tuple(label_names)
        self.aux_names_ = spectra.aux_names
        self.wavelength_ = np.asarray(spectra.wavelength, dtype=float)
        self.uncertainty_calibration_ = no_calibration(len(label_names))
        self._fit(spectra, labels, label_err, validation)
        held_out = None if validation is None else self._calibration_stars(*validation[:2])
        if held_out is not None:
            self._calibrate(*held_out)
        return self

    def predict(self, spectra, calibrate=True):
        """Predict labels and 1-sigma uncertainties.

        Parameters
        ----------
        spectra : Spectra
        calibrate : bool
            Apply the calibration measured on held-out stars (``calibrate_uncertainties``);
            False gives the method's own sigma.

        Returns
        -------
        labels, sigma : ndarray, shape (n_stars, n_labels)
        """
        self._check_fitted()
        self.check_compatible(spectra)
        labels, sigma = self._predict(spectra)
        return labels, self._calibrated(sigma, spectra) if calibrate else sigma

    def _calibrated(self, sigma, spectra):
        """``sigma`` of ``spectra``'s stars with the calibration measured on held-out stars, which
        follows each star's S/N (:func:`~labeltransfer.methods.calibration.calibrated`)."""
        return calibrated(sigma, self.uncertainty_calibration_, spectra.snr())

    def predict_and_flag(self, spectra, misfit_baseline):
        """Labels, calibrated sigma and :meth:`misfit_flags` of ``spectra`` in one call (a method whose
        flags come from its prediction's own parts, such as the networks' members, computes them
        once); ``misfit_baseline`` is :meth:`misfit_baseline` of training stars.

        Returns
        -------
        labels, sigma : ndarray, shape (n_stars, n_labels)
        misfit : ndarray of bool, shape (n_stars,)
        """
        labels, sigma = self.predict(spectra)
        return labels, sigma, self.misfit_flags(spectra, labels, sigma, misfit_baseline)

    def misfit_baseline(self, reference_spectra):
        """What :meth:`misfit_flags` measures a star against, from training stars
        (``reference_spectra``): computed once, then used for any number of stars (a survey, block
        by block). A method without such a measure needs none (this default: None)."""
        self._check_fitted()
        return None

    def misfit_flags(self, spectra, labels, sigma, misfit_baseline):
        """True for the stars that the model itself says it does not describe, shape (n_stars,).

        ``labels`` and ``sigma`` are this model's (calibrated) predictions for ``spectra``, so
        that nothing is predicted twice; ``misfit_baseline`` is :meth:`misfit_baseline` of
        training stars. A method without such a measure flags none (this default).
        """
        self._check_fitted()
        return np.zeros(len(spectra), dtype=bool)

    #: What ``flux_influence`` gives (None: the method gives none).
    influence_kind = None

    def flux_influence(self, spectra):
        """How far each pixel's flux moves each predicted label, in label units, shape
        (n_stars, n_pixels, n_labels): for The Cannon and the networks the derivative of the
        label with respect to the pixel's flux times the flux error, for XGBoost the pixel's
        SHAP contribution (``influence_kind`` says which). A method without one, such as the
        nearest neighbours, whose labels jump from star to star, gives None (this default).
        """
        self._check_fitted()
        return None

    def _calibration_stars(self, spectra, labels):
        """The held-out stars (spectra and reference labels) that ``fit`` calibrates the uncertainties
        on, from the validation split's: all of them (this default); None: no calibration."""
        return spectra, labels

    def _calibrate(self, spectra, labels):
        """Calibrate the uncertainties on held-out stars with reference ``labels``."""
        predicted, sigma = self._predict(spectra)
        self.uncertainty_calibration_ = calibrate_uncertainties(predicted, sigma, labels, self.label_names_,
                                                                type(self).__name__, snr=spectra.snr())

    def check_compatible(self, spectra):
        """Refuse spectra on another pixel grid or with other auxiliary features."""
        self._check_fitted()
        if spectra.aux_names != self.aux_names_:
            raise IncompatibleDataError(
                f"{type(self).__name__} was trained on auxiliary features {list(self.aux_names_)}, "
                f"the data have {list(spectra.aux_names)}"
            )
        wavelength = np.asarray(spectra.wavelength, dtype=float)
        if wavelength.shape != self.wavelength_.shape or not np.allclose(wavelength, self.wavelength_):
            raise IncompatibleDataError(
                f"{type(self).__name__} was trained on {len(self.wavelength_)} pixels "
                f"({self.wavelength_[0]:.1f}-{self.wavelength_[-1]:.1f} nm), the data have "
                f"{len(wavelength)} pixels ({wavelength[0]:.1f}-{wavelength[-1]:.1f} nm)"
            )

    def save(self, path):
        """Write the fitted model to ``path`` (an ``.npz`` file), atomically."""
        self._check_fitted()
        header = {
            "method_type": self.method_type,
            "params": self.get_params(),
            "label_names": list(self.label_names_),
            "aux_names": list(self.aux_names_),
            "package_version": __version__,
            "provenance": getattr(self, "provenance_", None),
        }
        arrays = {**self._get_state(), "uncertainty_calibration": self.uncertainty_calibration_}
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as handle:
            np.savez(handle, header=json.dumps(header), wavelength=self.wavelength_, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Read a model written by ``save``; the class must match the saved method type."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                header = json.loads(str(archive["header"]))
                arrays = {key: archive[key] for key in archive.files if key != "header"}
        except (zipfile.BadZipFile, EOFError, KeyError, ValueError, zlib.error) as error:
            raise IncompatibleDataError(
                f"{path} is not a complete model file ({type(error).__name__}: {error}): it was cut short or "
                "damaged; delete it and rerun to retrain") from error
        if header["method_type"] != cls.method_type:
            raise IncompatibleDataError(
                f"{path} holds a {header['method_type']!r} model, not {cls.method_type!r}"
            )
        if header.get("package_version") != __version__:
            log.warning("%s was written by labeltransfer %s, this is %s: its predictions may differ from a model "
                        "trained now (the workflow retrains when the code it runs changes)", path,
                        header.get("package_version"), __version__)
        try:
            model = cls(**header["params"])
        except TypeError as error:
            raise IncompatibleDataError(
                f"{path} was written by labeltransfer {header.get('package_version')} with parameters this "
                f"version's {cls.__name__} does not take ({error}): retrain it (delete the file and rerun)") from error
        model.label_names_ = tuple(header["label_names"])
        model.aux_names_ = tuple(header["aux_names"])
        model.provenance_ = header.get("provenance")
        model.wavelength_ = arrays.pop("wavelength")
        try:
            model.uncertainty_calibration_ = arrays.pop("uncertainty_calibration")
            model._set_state(arrays)
        except KeyError as error:
            raise IncompatibleDataError(
                f"{path} lacks {error} (written by labeltransfer {header.get('package_version')} before this "
                "state was kept): retrain it (delete the file and rerun)") from error
        return model

    def _check_fitted(self):
        if not hasattr(self, "label_names_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")


def _check_finite_features(spectra, what):
    """Fail on NaN flux in unmasked pixels, naming how many stars are affected."""
    bad = ~np.isfinite(spectra.flux) & np.isfinite(spectra.flux_error)
    n_bad = int(bad.any(axis=1).sum())
    if n_bad:
        pixels = np.flatnonzero(bad.any(axis=0))
        where = ", ".join(f"{spectra.wavelength[p]:g} nm" for p in pixels[:5]) + (" ..." if len(pixels) > 5 else "")
        raise ValueError(f"{what} spectra: {n_bad} stars have non-finite flux in unmasked pixels "
                         f"({len(pixels)} pixels: {where})")
