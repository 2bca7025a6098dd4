"""The competing label-transfer methods, behind one interface (:class:`LabelTransferMethod`).

Adding a method: one module with a subclass of ``LabelTransferMethod`` and one entry in
``METHODS`` (and in the ``type`` enum of the workflow's config schema).
"""

import json
import zipfile

import numpy as np

from .base import IncompatibleDataError, LabelTransferMethod, NotFittedError, TooFewStarsError
from .cannon import TheCannon
from .knn import NearestNeighbours
from .neural import CNN, MLP
from .xgb import XGBoostRegressor

__all__ = ["METHODS", "make_method", "load_method", "load_model_file", "LabelTransferMethod", "NotFittedError",
           "IncompatibleDataError", "TooFewStarsError", "TheCannon", "XGBoostRegressor", "MLP", "CNN",
           "NearestNeighbours"]

#: Method type (the ``type`` of a config entry) -> class.
METHODS = {cls.method_type: cls for cls in (TheCannon, XGBoostRegressor, MLP, CNN, NearestNeighbours)}


def _method_class(method_type):
    if method_type not in METHODS:
        raise KeyError(f"unknown method type {method_type!r}; available: {', '.join(METHODS)}")
    return METHODS[method_type]


def make_method(method_type, params):
    """A new, unfitted method of the given type with hyper-parameters ``params``."""
    cls = _method_class(method_type)
    try:
        return cls(**params)
    except TypeError as error:
        raise TypeError(f"bad parameters for method {method_type!r}: {error}") from error


def load_method(method_type, path):
    """A fitted method read from ``path``."""
    return _method_class(method_type).load(path)


def load_model_file(path):
    """A fitted method read from ``path``, of whatever type the file says it holds."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            method_type = json.loads(str(archive["header"]))["method_type"]
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, ValueError) as error:
        raise IncompatibleDataError(f"{path} is not a model file written by labeltransfer "
                                    f"({type(error).__name__}: {error})") from error
    return load_method(method_type, path)
