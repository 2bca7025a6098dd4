import pytest

from labeltransfer.methods import device


def test_cpu_without_gpu_resource(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda framework: True)
    assert device.select_device(0, "torch") == "cpu"


def test_cuda_when_given_a_gpu_and_the_framework_can_use_it(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda framework: True)
    assert device.select_device(1, "torch") == "cuda"


def test_cpu_when_given_a_gpu_but_the_framework_cannot_use_it(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda framework: False)
    assert device.select_device(1, "xgboost") == "cpu"


def test_a_cpu_build_of_torch_falls_back_on_a_gpu_node(monkeypatch):
    """What torch says decides, not whether a driver is installed."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.select_device(1, "torch") == "cpu"


def test_a_cpu_build_of_xgboost_falls_back_on_a_gpu_node(monkeypatch):
    xgboost = pytest.importorskip("xgboost")
    monkeypatch.setattr(xgboost, "build_info", lambda: {"USE_CUDA": False})
    assert device.select_device(1, "xgboost") == "cpu"


def test_a_cuda_build_of_xgboost_without_a_device_falls_back(monkeypatch):
    xgboost = pytest.importorskip("xgboost")

    def no_device(*args, **kwargs):
        raise xgboost.core.XGBoostError("no CUDA-capable device is detected")

    monkeypatch.setattr(xgboost, "build_info", lambda: {"USE_CUDA": True})
    monkeypatch.setattr(xgboost, "train", no_device)
    assert device.select_device(1, "xgboost") == "cpu"
