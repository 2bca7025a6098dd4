"""The competing label-transfer methods, behind one interface (:class:`LabelTransferMethod`).

Adding a method: one module with a subclass of ``LabelTransferMethod`` and one entry in
:data:`labeltransfer.methods.kinds.KINDS`, the table of what each type is and can do; the
registry here, the workflow and the docs read it.

A method's module is imported when its class is first asked for (``METHOD_CLASSES[type]``, or
``labeltransfer.methods.MLP``): torch and xgboost take seconds to import, and a job of
another method need not pay for them.
"""

import importlib
import json
import zipfile
from collections.abc import Mapping
import numpy as np

from .kinds import KINDS
from .base import IncompatibleDataError, LabelTransferMethod, NotFittedError, TooFewStarsError

__all__ = ["METHOD_CLASSES", "KINDS", "make_method", "load_method", "load_model_file", "LabelTransferMethod",
           "NotFittedError", "IncompatibleDataError", "TooFewStarsError", *(kind.cls for kind in KINDS.values())]


class _MethodRegistry(Mapping):
    """Method type (the ``type`` of a config entry) -> class, each module imported when first asked for."""

    def __getitem__(self, method_type):
        kind = KINDS[method_type]
        return getattr(importlib.import_module(f"{__name__}.{kind.module}"), kind.cls)

    def __iter__(self):
        return iter(KINDS)

    def __len__(self):
        return len(KINDS)


#: Method type (the ``type`` of a config entry) -> class.
METHOD_CLASSES = _MethodRegistry()


def __getattr__(name):
    """The method classes (``TheCannon``, ``MLP``, ...), imported on first use."""
    for method_type, kind in KINDS.items():
        if kind.cls == name:
            return METHOD_CLASSES[method_type]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _method_class(method_type):
    if method_type not in METHOD_CLASSES:
        raise KeyError(f"unknown method type {method_type!r}; available: {', '.join(METHOD_CLASSES)}")
    return METHOD_CLASSES[method_type]


def make_method(method_type, params, *, seed=None):
    """A new, unfitted method of the given type with hyper-parameters ``params``.

    ``seed`` (the workflow gives the run's) is the ``random_state`` of a type that draws random
    numbers where ``params`` sets none; a type that draws none takes no ``random_state``.
    """
    cls = _method_class(method_type)
    if seed is not None and "random_state" in cls.param_names():
        params = {"random_state": seed, **params}
    try:
        return cls(**params)
    except TypeError as error:
        raise TypeError(f"bad parameters for method {method_type!r}: {error}") from error


def load_method(method_type, path):
    """A fitted method read from ``path``."""
    return _method_class(method_type).load(path)


def load_model_file(path):
    """A fitted method read from ``path``, of whatever type the file says it holds.

    Raises
    ------
    IncompatibleDataError
        The file is no model file written by labeltransfer, or holds a method type this version
        does not know (both named).
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            method_type = json.loads(str(archive["header"]))["method_type"]
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, ValueError, TypeError) as error:
        raise IncompatibleDataError(f"{path} is not a model file written by labeltransfer "
                                    f"({type(error).__name__}: {error})") from error
    if method_type not in METHOD_CLASSES:
        raise IncompatibleDataError(f"{path}: unknown method type {method_type!r} in the model file's header (this "
                                    f"version knows {', '.join(METHOD_CLASSES)}): written by another version?")
    return load_method(method_type, path)
