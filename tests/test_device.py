import numpy as np
import pytest

from labeltransfer.data.spectra import Spectra
from labeltransfer.methods import device, make_method


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


def test_a_job_sets_threads_and_device_only_where_the_method_takes_them(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda framework: framework == "xgboost")
    knn = make_method("knn", {"n_neighbours": 3})  # numpy threads by itself, never on a GPU
    assert device.set_for_job(knn, threads=4, gpus=1) == "cpu"
    assert knn.get_params() == {"n_neighbours": 3, "n_components": 40}
    booster = make_method("xgboost", {})
    assert device.set_for_job(booster, threads=4, gpus=1) == "cuda"
    assert (booster.threads, booster.device) == (4, "cuda")
    assert device.set_for_job(booster, threads=2, gpus=0) == "cpu"  # saved on a GPU node, run on a CPU one
    assert (booster.threads, booster.device) == (2, "cpu")


def test_a_model_file_is_loaded_for_a_cpu_job_whatever_its_type(tmp_path):
    """The survey's and the command line's models: a kNN takes no threads, a booster saved on a GPU
    node runs on the CPU."""
    rng = np.random.default_rng(0)
    labels = rng.normal(size=(200, 1))
    flux = labels @ rng.normal(size=(1, 12)) + 0.1 * rng.standard_normal((200, 12))
    spectra = Spectra(flux, np.full_like(flux, 0.1), np.arange(12.0), np.empty((200, 0)), ())
    for method_type, params in (("knn", {"n_components": 3}), ("xgboost", {"n_estimators": 5})):
        model = make_method(method_type, params).fit(spectra, labels, np.ones_like(labels), ("a",),
                                                     validation=(spectra, labels, np.ones_like(labels)))
        if method_type == "xgboost":
            model.set_params(device="cuda", threads=8)  # as a GPU job saves it
        model.save(tmp_path / f"{method_type}.npz")
    knn = device.load_for_job(tmp_path / "knn.npz", threads=3)
    assert knn.get_params() == {"n_neighbours": 5, "n_components": 3}
    booster = device.load_for_job(tmp_path / "xgboost.npz", threads=3)
    assert (booster.device, booster.threads) == ("cpu", 3)
