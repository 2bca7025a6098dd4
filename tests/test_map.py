"""docs/map.md, the map of the workflow, is what docs/make_map.py prints, and the house is laid out by feature."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def make_map():
    spec = importlib.util.spec_from_file_location("make_map", REPO / "docs" / "make_map.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_map_is_in_sync_with_the_workflow(make_map):
    assert (REPO / "docs" / "map.md").read_text() == make_map.render(), (
        "docs/map.md is stale: python docs/make_map.py > docs/map.md")


def test_every_output_of_the_map_is_covered_by_a_test(make_map):
    uncovered = [f"{row[0]} ({row[1]})" for row in make_map.rows() if row[-1] == "none"]
    assert not uncovered, f"outputs no test calls the function of or reads: {uncovered}"


def test_each_feature_is_one_rule_file_one_pipeline_module_and_one_test_file():
    features = {path.stem for path in (REPO / "workflow" / "rules").glob("*.smk")} - {"common"}
    modules = {path.stem for path in (REPO / "src" / "labeltransfer" / "pipeline").glob("*.py")}
    missing = {feature: [what for what, present in (("pipeline module", feature in modules),
                                                    ("test file", (REPO / "tests" / f"test_{feature}.py").is_file()))
                         if not present] for feature in features}
    assert not {feature: what for feature, what in missing.items() if what}


def test_a_rule_the_map_cannot_place_is_named(make_map, tmp_path):
    """A script that calls no package function stops the map with its name (not a silent row)."""
    script = tmp_path / "orphan.py"
    script.write_text("import _package\nprint('nothing')\n")
    with pytest.raises(ValueError, match="orphan.py imports no labeltransfer function"):
        make_map.called_function(script)
