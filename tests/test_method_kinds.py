"""One table of method kinds (``labeltransfer.methods.kinds.KINDS``): a method added through it alone is
built, calibrated, trained, scored and tagged; the docs' table of methods is generated from it."""

import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labeltransfer.data.crossmatch import decode_apogee_id
from labeltransfer.data.spectra import Spectra
from labeltransfer.methods import METHOD_CLASSES, device, kinds, make_method
from labeltransfer.methods.calibration import no_calibration
from library_factory import write_library, write_parallax_catalogue

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "methods.md"
TABLE_START = "<!-- the table of kinds: methods.kinds.kinds_table() -->"
TABLE_END = "<!-- end of the table of kinds -->"

#: A method as a user would add one: one module of labeltransfer.methods (ridge regression of each
#: label on the flux, solved with torch on the job's device) ...
TOY_MODULE = '''"""Ridge regression of each label on the standardised flux (a test's toy method)."""

import numpy as np
import torch

from labeltransfer.methods.base import LabelTransferMethod


class Ridge(LabelTransferMethod):
    """Ridge regression of each label on the standardised flux; sigma: the training residuals' spread.

    Parameters
    ----------
    alpha : float
        The ridge penalty.
    device : str
        "cpu" or "cuda" (the workflow sets the job's).
    """

    method_type = "toy"

    def __init__(self, *, alpha=1.0, device="cpu"):
        self.alpha = alpha
        self.device = device

    def _standard(self, spectra):
        return np.nan_to_num((spectra.masked_flux() - self.mean_) / self.std_)

    def _fit(self, spectra, labels, label_err, validation):
        flux = spectra.masked_flux()
        self.mean_, self.std_ = np.nanmean(flux, axis=0), np.nanstd(flux, axis=0) + 1e-9
        design = torch.as_tensor(np.hstack([self._standard(spectra), np.ones((len(flux), 1))]), device=self.device)
        penalty = self.alpha * torch.eye(design.shape[1], dtype=design.dtype, device=self.device)
        self.weights_ = np.zeros((design.shape[1], labels.shape[1]))
        for k in range(labels.shape[1]):
            rows = torch.as_tensor(np.isfinite(labels[:, k]), device=self.device)
            target = torch.as_tensor(labels[:, k], device=self.device)[rows]
            solution = torch.linalg.solve(design[rows].T @ design[rows] + penalty, design[rows].T @ target)
            self.weights_[:, k] = solution.cpu().numpy()
        self.scatter_ = np.nanstd(self._labels(spectra) - labels, axis=0)

    def _labels(self, spectra):
        return np.hstack([self._standard(spectra), np.ones((len(spectra), 1))]) @ self.weights_

    def _predict(self, spectra):
        predicted = self._labels(spectra)
        return predicted, np.broadcast_to(self.scatter_, predicted.shape).copy()

    def _get_state(self):
        return {"mean": self.mean_, "std": self.std_, "weights": self.weights_, "scatter": self.scatter_}

    def _set_state(self, arrays):
        self.mean_, self.std_ = arrays["mean"], arrays["std"]
        self.weights_, self.scatter_ = arrays["weights"], arrays["scatter"]
'''
#: ... and one entry of KINDS: a GPU through torch, neither neural nor with influences, the flux alone.
TOY_KIND = kinds.MethodKind("toy_ridge", "Ridge", "ridge regression on the flux (a test's toy)", framework="torch",
                            flux_only=True)
#: That entry as a line of kinds.py.
TOY_ENTRY = f'    "toy": {TOY_KIND!r},\n'


def test_the_docs_table_of_methods_is_the_one_kinds_generates():
    text = DOCS.read_text()
    assert text.count(TABLE_START) == 1 and text.count(TABLE_END) == 1, f"{DOCS} lacks the table's markers"
    table = text.split(TABLE_START)[1].split(TABLE_END)[0].strip("\n") + "\n"
    assert table == kinds.kinds_table(), f"{DOCS}: the table of kinds is stale: paste methods.kinds.kinds_table()"


@pytest.mark.parametrize("method_type", list(kinds.KINDS))
def test_each_kind_names_its_class_whose_parameters_are_all_explicit(method_type):
    cls = METHOD_CLASSES[method_type]
    assert cls.method_type == method_type and cls.__name__ == kinds.KINDS[method_type].cls
    names = cls.param_names()  # refuses an __init__ with **kwargs
    assert names == list(cls().get_params())
    kind = kinds.KINDS[method_type]
    assert ("device" in names) == (kind.framework is not None)  # a GPU method takes the job's device
    assert kind.influence == (cls.influence_kind is not None)
    if kind.framework is None:
        assert device.job_device(method_type, gpus=1) == "cpu"


@pytest.fixture
def toy_registered(monkeypatch):
    """The toy module as labeltransfer.methods.toy_ridge and its entry in KINDS, in this process."""
    module = types.ModuleType("labeltransfer.methods.toy_ridge")
    exec(TOY_MODULE, module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(kinds.KINDS, "toy", TOY_KIND)
    return module


def _stars(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.normal(size=(n, 2))
    flux = labels @ rng.normal(size=(2, 30)) + 0.3 * rng.standard_normal((n, 30))
    return Spectra(flux, np.full_like(flux, 0.3), np.arange(30.0), np.empty((n, 0)), ()), labels


def test_the_registry_the_device_and_the_calibration_follow_the_table(toy_registered, monkeypatch):
    model = make_method("toy", {"alpha": 2.0}, seed=42)  # the toy draws nothing: it takes no random_state
    assert type(model) is toy_registered.Ridge and model.get_params() == {"alpha": 2.0, "device": "cpu"}
    monkeypatch.setattr(device, "cuda_available", lambda framework: framework == "torch")
    assert device.job_device("toy", gpus=1) == "cuda" and device.job_device("toy", gpus=0) == "cpu"
    assert device.set_for_job(model, threads=4, gpus=0) == "cpu"  # no threads parameter: none set
    spectra, labels = _stars(400, 0)
    uncalibrated = make_method("toy", {}).fit(spectra, labels, np.ones_like(labels), ("a", "b"))
    np.testing.assert_array_equal(uncalibrated.uncertainty_calibration_, no_calibration(2))
    # the toy's _fit never calibrates: fit does, on the validation stars
    calibrated = make_method("toy", {}).fit(spectra, labels, np.ones_like(labels), ("a", "b"),
                                            validation=(*_stars(200, 1), np.ones((200, 2))))
    assert not np.array_equal(calibrated.uncertainty_calibration_, no_calibration(2))


def _copy_with_the_toy(folder):
    """The repository's workflow, config, environments and package in ``folder``, the toy added to the package: its module
    and its KINDS entry, nothing else; the library and parallax catalogue small synthetic ones."""
    for part in ("Snakefile", "workflow", "config", "envs", "src"):
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy
        copy(REPO / part, folder / part, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if (REPO / part).is_dir() else {}))
    methods = folder / "src" / "labeltransfer" / "methods"
    (methods / "toy_ridge.py").write_text(TOY_MODULE)
    table = methods / "kinds.py"
    assert table.read_text().count("KINDS = {\n") == 1
    table.write_text(table.read_text().replace("KINDS = {\n", "KINDS = {\n" + TOY_ENTRY))
    (folder / "resources" / "library").mkdir(parents=True)
    (folder / "resources" / "parallax_catalogue").mkdir()
    columns = write_library(folder / "resources" / "library" / "apogee_library_spectra.fits.gz", n_stars=700, seed=4)
    ra, dec, _ = decode_apogee_id(columns["apogee_id"])
    write_parallax_catalogue(folder / "resources" / "parallax_catalogue" / "gaiadr2_apogeedr14_parallax.npz",
                             ra, dec, np.full(len(ra), 1.0))
    return folder


def _snakemake(folder, *args, feature_set="flux"):
    """Snakemake in ``folder`` on config/ci.yaml with the toy, and the Cannon and the Payne the diagnostics need."""
    toy = f"method_settings={{toy: {{type: toy, feature_set: {feature_set}}}}}"
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile", "config/ci.yaml",
                           "--config", "methods=[toy, cannon, payne]", toy], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(folder / "src")})


@pytest.fixture(scope="module")
def toy_copy(tmp_path_factory):
    return _copy_with_the_toy(tmp_path_factory.mktemp("toy"))


def test_a_method_added_through_the_table_alone_is_tagged_trained_and_scored(toy_copy):
    model, summary = "results/ci/models/toy.npz", "results/ci/metrics/summary.csv"
    planned = _snakemake(toy_copy, "-n", model)
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
    training = planned.stdout.split("rule train_method:")[1].split("\n\n")[0]
    assert "method=toy" in training and re.search(r"\bgpu=1\b", training), training
    result = _snakemake(toy_copy, model, summary)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    scores = pd.read_csv(toy_copy / summary)
    toy = scores[(scores["method"] == "toy") & (scores["subset"] == "all")].set_index("label")
    assert set(toy.index) == {"teff", "logg", "fe_h", "alpha_m"} and (toy["n"] > 50).all()
    assert toy["scatter"].notna().all()


def test_the_config_reference_lists_the_type_and_names_its_class(toy_copy):
    result = subprocess.run([sys.executable, "workflow/schemas/make_reference.py"], cwd=toy_copy, capture_output=True,
                            text=True, check=True)
    type_row = next(line for line in result.stdout.splitlines() if line.startswith("| `method_settings.<name>.type`"))
    assert "`toy` / `knn`" in type_row
    assert "### `toy`\n\nridge regression on the flux (a test's toy): the parameters of " \
           "`labeltransfer.methods.toy_ridge.Ridge`" in result.stdout


def test_a_flux_only_kind_given_colours_is_refused_at_start_up_in_one_line(toy_copy):
    result = _snakemake(toy_copy, "-n", feature_set="flux_colours")
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "read the flux alone" in line]
    assert lines and "'toy': 'flux_colours'" in lines[0] and "set their feature_set to flux" in lines[0], lines
