"""The environment of a job's process: the package first on sys.path, OpenMP's waiting threads asleep."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


def _policy_after_import(environment):
    """OMP_WAIT_POLICY as a script sees it once it has imported _package."""
    code = "import _package, os; print(os.environ.get('OMP_WAIT_POLICY'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=SCRIPTS, env=environment, check=True,
                            capture_output=True, text=True)
    return result.stdout.strip()


def test_jobs_wait_passively_unless_the_user_chose():
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy_after_import(environment) == "PASSIVE"
    assert _policy_after_import({**environment, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("[!_]*.py")))
def test_each_script_imports_package_before_anything_else(script):
    """OpenMP reads its wait policy when it loads: _package must come before numpy, torch, xgboost."""
    tree = ast.parse((SCRIPTS / script).read_text())
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports and isinstance(imports[0], ast.Import) and imports[0].names[0].name == "_package", script


def test_the_label_command_waits_passively_too(tmp_path, monkeypatch):
    from labeltransfer.cli import main

    monkeypatch.setenv("OMP_WAIT_POLICY", "unset by the test")  # restored after the test
    monkeypatch.delenv("OMP_WAIT_POLICY")
    with pytest.raises(SystemExit):
        main(["label", "--model", str(tmp_path / "none.npz"), "--spectra", str(tmp_path / "none.csv"),
              "--out", str(tmp_path / "out.parquet")])
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
