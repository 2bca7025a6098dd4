"""Every shell command the documentation prints runs as printed (docs as tests).

Collected from README.md, docs/*.md and config/README.md: each command of a fenced block marked
``bash``, ``sh``, ``shell`` or ``console`` (in a ``console`` block only the lines after a ``$ `` prompt;
a line ending in ``\\`` is joined to the next; ``&&`` separates commands, each checked by itself), and
each ``snakemake`` command of README's config table. The first rule of ``RULES`` whose pattern matches
a command whole checks it:

- ``snakemake`` on the CI config: run for real, after the suite's own run of it (``conftest.ci_run``,
  which adds the survey stage): nothing is left to do, and nothing else (no server) had to be started.
- any other ``snakemake``: a dry run (``-n`` added) in a fresh working directory (the workflow linked
  in, nothing downloaded or run): the config loads, validates and builds its whole job graph; where
  the text beside it says how many jobs ``-n`` shows, that number.
- ``labeltransfer label``: for real, in a folder of its own, on a kNN model, sample and split that
  the test makes as the workflow does, with an XP continuous file (the real GaiaXPy rows of
  ../shared/fixtures, or generated ones) at the ``--spectra`` path.
- ``pip install``: ``pip install --dry-run --no-index --no-build-isolation``: the project builds, the
  extras it names exist, and what is installed satisfies every requirement (no network).
- ``python -m pytest``: the suite cannot run itself: ``.ci/run`` must run the same command.
- ``python bench/method_variants.py``: checked, not run (each variant trains for minutes to hours on
  the default run's sample): the method is in the config and each variant is a JSON object whose
  parameters and feature set build it.

A command that cannot run here says so at the end of its (last) line, ``# not run by the tests:
<why>``; the test skips it with that reason. A command that no rule matches fails: give it a rule
(one line of ``RULES``) or the marker.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, SHARED_FIXTURES, workflow_checkout

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config" / "README.md"]
SHELL_BLOCK = re.compile(r"^[ \t]*```(bash|sh|shell|console)[ \t]*\n(.*?)^[ \t]*```", re.M | re.S)
NOT_RUN = "not run by the tests:"
#: The interpreter's own folder first, where pip put the console scripts (snakemake, labeltransfer, pip).
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

#: A documented command: its text (comment removed), where it is printed, and the text beside it
#: (its comment, or the table cell it stands in).
Command = namedtuple("Command", "text where note")


def _without_comment(line):
    """``line`` split at its first ``#`` that starts a shell comment (outside quotes): (command, comment)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip(), line[i + 1:].strip()
    return line.strip(), ""


def _block_commands(path, name):
    """The commands of the fenced shell blocks of ``path``, located as ``name:line``."""
    text = path.read_text()
    commands = []
    for block in SHELL_BLOCK.finditer(text):
        first_line = text[: block.start(2)].count("\n") + 1
        lines, start = [], None
        for number, line in enumerate(block[2].splitlines(), first_line):
            line = line.strip()
            if block[1] == "console" and not lines:
                if not line.startswith("$ "):
                    continue  # the output of the command before
                line = line[2:]
            if not lines and (not line or line.startswith("#")):
                continue
            start = start if lines else number
            lines.append(line.removesuffix("\\"))
            if not line.endswith("\\"):
                command, note = _without_comment(" ".join(lines))
                where = f"{name}:{start}"
                commands += [Command(" ".join(part.split()), where, note) for part in command.split(" && ")]
                lines = []
    return commands


def _config_table_commands():
    """The ``snakemake`` commands of README's config table, each with its row's last cell."""
    table = (REPO / "README.md").read_text().split("\n## Configs\n", 1)[1].split("\n## ", 1)[0]
    return [Command(command, f"README.md, config table: {row.split('|')[1].strip()}", row.split("|")[-2])
            for row in table.splitlines() if row.startswith("| `config/")
            for command in re.findall(r"`(snakemake [^`]+)`", row.split("|")[-2])]


def documented_commands():
    """Every command the docs print in a fenced shell block, then those of README's config table."""
    return [command for path in DOCS for command in _block_commands(path, path.relative_to(REPO))] + (
        _config_table_commands())


def _run(args, cwd):
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)


def _output(result):
    return result.stdout[-3000:] + result.stderr[-3000:]


def _after_the_ci_run(command, request):
    """The CI config as printed, after the suite's run of it with the survey stage added: nothing left to do."""
    request.getfixturevalue("ci_run")
    result = _run(shlex.split(command.text), REPO)
    assert result.returncode == 0, _output(result)
    assert "Nothing to be done" in result.stdout + result.stderr, _output(result)


_DRY_RUNS = {}


def _dry_run(command, request):
    """``-n`` added, in a fresh working directory; the number of jobs where the text beside it gives one."""
    if command.text not in _DRY_RUNS:
        args = shlex.split(command.text)
        _DRY_RUNS[command.text] = _run([args[0], "-n", *args[1:]], request.getfixturevalue("fresh_clone"))
    result = _DRY_RUNS[command.text]
    assert result.returncode == 0, _output(result)
    if claimed := re.search(r"`-n` shows the ([\d,]+) jobs", command.note):
        total = re.search(r"^total\s+(\d+)$", result.stdout, re.M)
        assert total and int(total[1]) == int(claimed[1].replace(",", "")), (command.where, total and total[0])


def _option(args, name):
    """The value after ``name`` in ``args`` (None without it)."""
    return args[args.index(name) + 1] if name in args else None


def _before_options(args):
    """The arguments before the first option (``--...``)."""
    return args[: next((i for i, arg in enumerate(args) if arg.startswith("--")), len(args))]


def _label_on_fixtures(command, request):
    """For real, in a folder of its own holding the trained run's results/ and the --spectra file."""
    run, sources = request.getfixturevalue("labelling_run")
    args = shlex.split(command.text)
    if missing := [p for p in (_option(args, f) for f in ("--model", "--sample", "--split")) if p and not
                   (run / p).exists()]:
        pytest.fail(f"{command.where}: the test makes no {missing}: add it to the labelling_run fixture")
    folder = request.getfixturevalue("tmp_path")
    (folder / "results").symlink_to(run / "results")
    shutil.copy(sources, folder / _option(args, "--spectra"))
    result = _run(args, folder)
    assert result.returncode == 0, _output(result)
    catalogue = pd.read_parquet(folder / _option(args, "--out"))
    assert list(catalogue["source_id"]) == list(pd.read_csv(sources)["source_id"])


def _pip_dry_run(command, request):
    """``--dry-run --no-index --no-build-isolation``: builds the project, resolves against what is installed."""
    args = shlex.split(command.text)
    result = _run([*args[:2], "--dry-run", "--no-index", "--no-build-isolation", *args[2:]], REPO)
    assert result.returncode == 0, _output(result)
    assert "does not provide the extra" not in result.stdout + result.stderr, _output(result)


def _run_by_ci_script(command, request):
    """The test suite itself: .ci/run (what CI runs) runs the same command."""
    assert command.text in (REPO / ".ci" / "run").read_text().splitlines(), command.text


def _variants_build(command, request):
    """Each variant a JSON object whose parameters and feature set build the configured method."""
    from labeltransfer.methods import make_method
    from labeltransfer.data.sample import feature_names

    method, *rest = shlex.split(command.text)[2:]
    config = {}
    for path in _before_options(rest[rest.index("--config") + 1:]) if "--config" in rest else ["config/config.yaml"]:
        update_config(config, yaml.safe_load((REPO / path).read_text()))  # merged as the bench merges them
    for variant in _before_options(rest):
        variant = json.loads(variant)
        settings = config["method_settings"][variant.pop("method", method)]  # as the bench reads "method"
        params = {**settings.get("params", {}), **variant}
        feature_names(params.pop("feature_set", settings.get("feature_set", "flux_colours")), config["colours"])
        make_method(settings["type"], params)


#: How each documented command is checked: the first whose pattern matches the command whole.
RULES = [
    (r"snakemake --cores all --configfile config/ci\.yaml", _after_the_ci_run),
    (r"snakemake .*", _dry_run),
    (r"labeltransfer label .*", _label_on_fixtures),
    (r"pip install .*", _pip_dry_run),
    (r"python -m pytest( .*)?", _run_by_ci_script),
    (r"python bench/method_variants\.py .*", _variants_build),
]


def _rule_of(command):
    """The entry of RULES that checks ``command`` (None: none does)."""
    return next((rule for rule in RULES if re.fullmatch(rule[0], command.text)), None)


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    """A working directory as a fresh clone has it: the workflow, nothing run."""
    return workflow_checkout(tmp_path_factory.mktemp("clone"))


@pytest.fixture(scope="module")
def labelling_run(tmp_path_factory):
    """A folder with results/xp_from_apogee/ as the default run leaves it for the kNN (a sample of 600
    synthetic stars and its split, made and trained on by the workflow's own steps with the default
    config's settings), and an XP continuous file (the real GaiaXPy rows where ../shared/fixtures is)."""
    from labeltransfer.pipeline.sample import finish_sample
    from labeltransfer.pipeline.training import train_method
    from labeltransfer.data.sample import build_sample
    from library_factory import synthetic_stars
    from survey_factory import write_xp_continuous

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    folder = tmp_path_factory.mktemp("labelling")
    data, models = folder / "results" / "xp_from_apogee" / "data", folder / "results" / "xp_from_apogee" / "models"
    data.mkdir(parents=True)
    models.mkdir()
    sample = build_sample(synthetic_stars(600, seed=5), config["labels"], config["quality"], config["colours"])
    finish_sample(sample, {"max_stars": None, "seed": config["seed"], "split": config["split"]},
                  data / "sample.npz", data / "split.csv")
    train_method(sample_path=data / "sample.npz", split_path=data / "split.csv",
                 method=config["method_settings"]["knn"], colours=config["colours"], seed=config["seed"], threads=1,
                 gpus=0, model_path=models / "knn.npz", timing_path=models / "knn.fit.json")
    sources = SHARED_FIXTURES / "real" / "gaia_xp" / "XP_CONTINUOUS_RAW.csv"
    if not sources.exists():
        sources = folder / "xp_continuous.csv"
        write_xp_continuous(sources, [11, 12, 13], seed=4)
    return folder, sources


@pytest.mark.parametrize("command", documented_commands(), ids=lambda c: f"{c.where} {c.text[:50]}")
def test_documented_command_runs_as_printed(command, request):
    if NOT_RUN in command.note:
        pytest.skip(f"{command.where}: {command.note[command.note.index(NOT_RUN):]}")
    rule = _rule_of(command)
    if rule is None:
        pytest.fail(f"{command.where}: `{command.text}` has no rule in tests/test_docs.py RULES; add one, or "
                    f"end its line with '# {NOT_RUN} <why>'")
    rule[1](command, request)


def test_commands_are_read_as_the_shell_reads_them(tmp_path):
    """Continuation lines join, ``&&`` separates, comments (the marker too) are set apart, full-line
    comments and a console block's output are no commands."""
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```bash\n# a comment\npip install -e . && snakemake --cores all  # the default run\n"
                    "python bench/method_variants.py mlp '{\"a\": \"#1\"}' \\\n    '{}'\n```\n\n- a list item:\n\n"
                    "  ```console\n  $ labeltransfer label --model m.npz \\\n      --out o.parquet  # not run by the "
                    "tests: why\n  wrote o.parquet\n  ```\n\n```\nnot a shell block\n```\n")
    assert _block_commands(page, "page.md") == [
        Command("pip install -e .", "page.md:5", "the default run"),
        Command("snakemake --cores all", "page.md:5", "the default run"),
        Command("python bench/method_variants.py mlp '{\"a\": \"#1\"}' '{}'", "page.md:6", ""),
        Command("labeltransfer label --model m.npz --out o.parquet", "page.md:13", "not run by the tests: why")]


def test_every_rule_checks_a_documented_command():
    """A rule no command uses is stale (its command left the docs or changed)."""
    used = {_rule_of(command) for command in documented_commands() if NOT_RUN not in command.note}
    assert [pattern for pattern, check in RULES if (pattern, check) not in used] == []


def test_readme_config_table_lists_every_config():
    listed = {re.search(r"config/(\S+\.yaml)", command.where)[1] for command in _config_table_commands()}
    assert listed == {path.name for path in (REPO / "config").glob("*.yaml")}
