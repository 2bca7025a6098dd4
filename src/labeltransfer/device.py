"""Choice of the compute device from the resources Snakemake gave a job.

The library that will run the model is asked whether it can use a GPU (torch for the
networks, xgboost for the boosters): a CPU build of either on a GPU node runs on the CPU.
"""

import logging

__all__ = ["select_device", "cuda_available", "LIBRARY_OF_METHOD"]

log = logging.getLogger(__name__)

#: The library that runs each GPU-capable method type.
LIBRARY_OF_METHOD = {"mlp": "torch", "cnn": "torch", "xgboost": "xgboost"}


def cuda_available(library):
    """True when ``library`` ("torch" or "xgboost") was built with CUDA and can use a device."""
    if library == "torch":
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


def select_device(gpus, library):
    """``"cuda"`` when the job was given ``gpus > 0`` and ``library`` can use a GPU, else ``"cpu"``."""
    if gpus and gpus > 0:
        if cuda_available(library):
            return "cuda"
        log.info("the job may use %s GPU(s) but %s cannot use one (a CPU build, or no device); running on "
                 "the CPU", gpus, library)
    return "cpu"
