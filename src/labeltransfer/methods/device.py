"""Choice of the compute device from the resources Snakemake gave a job.

The framework that will run the model is asked whether it can use a GPU (torch for the
networks, xgboost for the boosters): a CPU build of either on a GPU node runs on the CPU.
"""

import logging

from .kinds import KINDS

__all__ = ["job_device", "select_device", "cuda_available"]

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
