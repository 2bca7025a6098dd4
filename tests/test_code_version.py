"""Each rule reruns when the package code its script runs changes, and only then."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labeltransfer.code_version import code_digest, imported_modules, package_files

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"


def _names(script):
    return {str(p.relative_to(REPO / "src")) for p in package_files(SCRIPTS / f"{script}.py", REPO / "src")}


def test_relative_imports_are_resolved_against_the_module(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from ..evaluation.metrics import robust_scatter\nfrom . import plots\nimport numpy as np\n")
    assert imported_modules(source, "labeltransfer.pipeline.m") == [
        "labeltransfer.evaluation.metrics", "labeltransfer.evaluation.metrics.robust_scatter", "labeltransfer.pipeline",
        "labeltransfer.pipeline.plots", "numpy"]


def test_training_runs_the_methods_and_not_the_figures():
    train = _names("train_method")
    assert {"labeltransfer/methods/cannon.py", "labeltransfer/methods/neural_base.py", "labeltransfer/data/split.py",
            "labeltransfer/__init__.py", "labeltransfer/pipeline/__init__.py"} <= train
    assert "labeltransfer/evaluation/plots.py" not in train
    figures = _names("plot_comparison")
    assert "labeltransfer/evaluation/plots.py" in figures and "labeltransfer/methods/cannon.py" not in figures


UPSTREAM_OF_THE_MODELS = ["download_dataset", "download_archive_catalogue", "query_gaia_sources", "read_apogee_labels",
                          "fetch_gaia_spectra", "fetch_lamost_spectra", "xp_noise_model", "crossmatch",
                          "prepare_sample", "download_survey_file"]


@pytest.mark.parametrize("script", UPSTREAM_OF_THE_MODELS)
def test_no_figure_code_upstream_of_the_models(script):
    """A figure's style is changed often: it must not download the archives again, nor remake the
    sample (and so retrain every model); the cross-match's figure has a rule of its own."""
    assert not {name for name in _names(script) if name.endswith("plots.py")}


def test_the_digest_follows_the_code_a_script_runs(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO / "src" / "labeltransfer", src / "labeltransfer")
    script = SCRIPTS / "train_method.py"
    before = code_digest(script, src)
    (src / "labeltransfer" / "evaluation" / "plots.py").write_text("# a figure changed\n")
    assert code_digest(script, src) == before  # not run by training
    split = src / "labeltransfer" / "data" / "split.py"
    split.write_text(split.read_text() + "\n# changed\n")
    assert code_digest(script, src) != before


def test_a_method_added_through_its_kinds_entry_is_in_the_training_digest(tmp_path):
    """The registry imports a method's module by name: a new method module, and a change to it,
    retrain (it is in no import statement of the training script's code)."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "src" / "labeltransfer", src / "labeltransfer")
    script = SCRIPTS / "train_method.py"
    before = code_digest(script, src)
    toy = src / "labeltransfer" / "methods" / "toy.py"
    toy.write_text("# a toy method\n")
    assert toy in package_files(script, src)
    with_toy = code_digest(script, src)
    toy.write_text("# a toy method, changed\n")
    assert len({before, with_toy, code_digest(script, src)}) == 3


def test_every_rule_with_a_script_passes_its_code_digest():
    import re

    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            script = re.search(r'script:\s+"\.\./scripts/(\w+)\.py"', block)
            if script:
                assert f'code=script_code("{script.group(1)}")' in block, block.split(":", 1)[0]


def test_a_method_job_imports_only_its_own_method_s_libraries():
    """torch and xgboost take seconds to import: a job of the Cannon or the kNN does not pay for them,
    and each registered type still gives its own class."""
    code = ("import sys; from labeltransfer.methods import METHOD_CLASSES, load_model_file; "
            "import labeltransfer.pipeline.training, labeltransfer.pipeline.prediction, labeltransfer.pipeline.wavelength_subsets; "
            "assert METHOD_CLASSES['cannon'].__name__ == 'TheCannon' and METHOD_CLASSES['knn'].__name__ == 'NearestNeighbours'; "
            "assert not {'torch', 'xgboost'} & set(sys.modules), 'torch or xgboost imported'; "
            "assert all(METHOD_CLASSES[t].method_type == t for t in METHOD_CLASSES); "
            "from labeltransfer.methods import MLP; assert MLP is METHOD_CLASSES['mlp'] and 'torch' in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert result.returncode == 0, result.stderr
