from labeltransfer import device


def test_cpu_without_gpu_resource(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    assert device.select_device(0) == "cpu"


def test_cuda_when_given_a_gpu_and_one_answers(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    assert device.select_device(1) == "cuda"


def test_cpu_when_given_a_gpu_but_none_answers(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda: False)
    assert device.select_device(1) == "cpu"
