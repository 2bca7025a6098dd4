"""A job's resources given to a model: the compute device its GPUs allow, and its CPU threads.

The framework that will run the model is asked whether it can use a GPU (torch for the
networks, xgboost for the boosters): a CPU build of either on a GPU node runs on the CPU.
"""

import logging

from . import load_model_file
from .kinds import KINDS

__all__ = ["load_for_job", "set_for_job", "job_device", "select_device", "cuda_available"]

log = logging.getLogger(__name__)


def cuda_available(framework):
    """True when ``framework`` ("torch" or "xgboost") was built with CUDA and can use a device."""
    if framework == "torch":
        import torch

        return torch.cuda.is_available()
    import numpy as np
    import xgboost

    if not xgboost.build_info().get("USE_CUDA"):
        return False
    try:  # a CUDA build: whether a device answers shows only when one is used
        data = xgboost.DMatrix(np.zeros((2, 1)), label=np.zeros(2))
        xgboost.train({"device": "cuda", "tree_method": "hist"}, data, num_boost_round=1)
    except xgboost.core.XGBoostError as error:
        log.info("xgboost was built with CUDA but cannot use a device: %s", str(error).splitlines()[0])
        return False
    return True


def select_device(gpus, framework):
    """``"cuda"`` when the job was given ``gpus > 0`` and ``framework`` can use a GPU, else ``"cpu"``."""
    if gpus and gpus > 0:
        if cuda_available(framework):
            return "cuda"
        log.info("the job may use %s GPU(s) but %s cannot use one (a CPU build, or no device); running on "
                 "the CPU", gpus, framework)
    return "cpu"


def job_device(method_type, gpus):
    """The device a job of ``method_type`` runs on: :func:`select_device` with the framework that
    :data:`labeltransfer.methods.kinds.KINDS` names for the type; ``"cpu"`` for a CPU-only type."""
    framework = KINDS[method_type].framework
    return "cpu" if framework is None else select_device(gpus, framework)


def set_for_job(model, threads, gpus):
    """Give ``model`` a job's CPU ``threads`` and the device its ``gpus`` allow (:func:`job_device`),
    each where the method takes it (a ``threads``, a ``device`` parameter); return the device.

    A model saved with ``device: cuda`` is moved to the CPU where the job has no GPU.
    """
    device = job_device(model.method_type, gpus)
    given = {"threads": threads, "device": device}
    model.set_params(**{name: value for name, value in given.items() if name in model.param_names()})
    return device


def load_for_job(path, threads, gpus=0):
    """The fitted model in ``path``, of whatever type the file holds (:func:`~labeltransfer.methods.load_model_file`),
    set for a job with ``threads`` CPU threads and ``gpus`` GPUs (:func:`set_for_job`)."""
    model = load_model_file(path)
    set_for_job(model, threads, gpus)
    return model
