"""Choice of the compute device from the resources Snakemake gave a job."""

import logging
import shutil

__all__ = ["select_device", "cuda_available"]

log = logging.getLogger(__name__)


def cuda_available():
    """True when an NVIDIA driver answers (``nvidia-smi`` on the PATH and a GPU listed)."""
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return False
    result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return result.returncode == 0 and "GPU" in result.stdout


def select_device(gpus):
    """``"cuda"`` when the job was given ``gpus > 0`` and a GPU is present, else ``"cpu"``."""
    if gpus and gpus > 0:
        if cuda_available():
            return "cuda"
        log.info("the job may use %s GPU(s) but no CUDA device answers; running on the CPU", gpus)
    return "cpu"
