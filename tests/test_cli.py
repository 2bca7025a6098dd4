"""``labeltransfer label``: nothing a user hands in is overwritten or lost, the output's suffix decides
its format, bad input is refused before any labelling with one line naming the file (``--debug``:
the traceback), and a catalogue without the out-of-distribution flags says so."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from labeltransfer.cli import main as cli
from labeltransfer.methods import make_method
from labeltransfer.data.spectra import Spectra
from labeltransfer.diagnostics.ood import FLAGS, TrainingDomain
from labeltransfer.data.sample import build_sample
from labeltransfer.survey.labelling import SurveyModel, catalogue_metadata, read_catalogue
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A folder as a user has it: a nearest-neighbour model, its flags' training domain, and sampled spectra of
    40 stars (``spectra.npz``)."""
    folder = tmp_path_factory.mktemp("cli")
    sample = build_sample(synthetic_stars(400, seed=5), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    train, stars = sample.subset(np.arange(360)), sample.subset(np.arange(360, 400))
    model = make_method("knn", {"n_components": 5}).fit(train.spectra.select_aux([]), train.labels, train.label_err,
                                                         train.label_names)
    model.provenance_ = {"sample": "s", "split": "p", "seed": 0}
    (folder / "run_a" / "models").mkdir(parents=True)
    (folder / "run_b" / "models").mkdir(parents=True)
    for run_folder in ("run_a", "run_b"):
        model.save(folder / run_folder / "models" / "knn.npz")
    validation_predictions = model.predict(stars.spectra.select_aux([]))[0]  # the 40 stars stand in for them
    SurveyModel("knn", model, folder / "run_a" / "models" / "knn.npz",
                TrainingDomain(train.spectra.select_aux([]), train.labels, validation_predictions, 0)
                ).write_domain(folder / "domain.npz")
    np.savez(folder / "spectra.npz", source_id=np.arange(40, dtype=np.int64) * 2 ** 35, flux=stars.spectra.flux,
             flux_error=stars.spectra.flux_error, wavelength=stars.spectra.wavelength)
    return folder


def _label(folder, *args, model="run_a/models/knn.npz", spectra="spectra.npz"):
    return cli(["label", "--model", str(folder / model), "--spectra", str(folder / spectra), *args])


def _refusal(*args, **kwargs):
    with pytest.raises(SystemExit) as refused:
        _label(*args, **kwargs)
    message = str(refused.value)
    assert message.startswith("labeltransfer label: ") and "\n" not in message
    return message


@pytest.mark.parametrize("given", ["--spectra", "--model", "--sample", "--split", "--domain"])
def test_out_is_never_an_input(run, given, tmp_path):
    inputs = {"--spectra": "spectra.npz", "--model": "run_a/models/knn.npz", "--sample": "sample.npz",
              "--split": "split.csv", "--domain": "domain.npz"}
    (run / "sample.npz").write_bytes(b"not read")
    (run / "split.csv").write_text("not read\n")
    extra = {"--sample": ["--sample", str(run / "sample.npz"), "--split", str(run / "split.csv")],
             "--split": ["--sample", str(run / "sample.npz"), "--split", str(run / "split.csv")],
             "--domain": ["--domain", str(run / "domain.npz")]}.get(given, [])
    before = {name: (run / name).read_bytes() for name in inputs.values()}
    same = run / "run_b" / ".." / inputs[given]  # the same file by another path
    message = _refusal(run, *extra, "--out", str(same), "--overwrite")
    assert f"{same}: --out is the input {run / inputs[given]}" in message and "choose another --out" in message
    assert {name: (run / name).read_bytes() for name in inputs.values()} == before


def test_an_existing_catalogue_is_replaced_only_with_overwrite(run, tmp_path):
    (tmp_path / "mine.parquet").write_bytes(b"my own file")
    message = _refusal(run, "--out", str(tmp_path / "mine.parquet"))
    assert message == f"labeltransfer label: {tmp_path / 'mine.parquet'} exists: --overwrite replaces it (or choose another --out)"
    assert (tmp_path / "mine.parquet").read_bytes() == b"my own file"
    _label(run, "--out", str(tmp_path / "mine.parquet"), "--overwrite")
    assert len(read_catalogue([tmp_path / "mine.parquet"])) == 40


def test_two_models_of_the_same_name_are_refused_not_one_lost(run, tmp_path):
    message = _refusal(run, "--model", str(run / "run_b" / "models" / "knn.npz"), "--out", str(tmp_path / "out"))
    assert (f"{tmp_path / 'out' / 'knn.parquet'}: --model {run / 'run_a/models/knn.npz'} and --model "
            f"{run / 'run_b/models/knn.npz'} would both write this catalogue") in message
    assert not (tmp_path / "out" / "knn.parquet").exists()


def test_the_suffix_decides_the_format(run, tmp_path):
    from astropy.table import Table

    for name in ("labels.parquet", "labels.fits", "labels.ecsv"):
        _label(run, "--out", str(tmp_path / name))
    parquet = read_catalogue([tmp_path / "labels.parquet"])
    fits_table = Table.read(tmp_path / "labels.fits", unit_parse_strict="silent").to_pandas()
    pd.testing.assert_frame_equal(fits_table, parquet, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "labels.ecsv", comment="#"), parquet, check_dtype=False)
    with open(tmp_path / "labels.fits", "rb") as handle:
        assert handle.read(6) == b"SIMPLE"
    message = _refusal(run, "--out", str(tmp_path / "labels.csv"))
    assert "labels.csv: a .csv file cannot hold the catalogue's units" in message
    assert "name it .ecsv" in message and not (tmp_path / "labels.csv").exists()


def test_a_folder_that_cannot_be_written_fails_before_the_labelling(run, tmp_path, monkeypatch):
    labelled = []
    monkeypatch.setattr("labeltransfer.survey.labelling.label_file", lambda *args, **kwargs: labelled.append(args))
    (tmp_path / "a_file").write_text("")
    message = _refusal(run, "--out", str(tmp_path / "a_file" / "labels.parquet"))
    assert message.startswith(f"labeltransfer label: {tmp_path / 'a_file'}: the catalogue cannot be written there")
    assert labelled == []


@pytest.mark.parametrize("rows", ["0", "-3", "many"])
def test_block_rows_must_be_a_whole_number_above_zero(run, rows, tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        _label(run, "--out", str(tmp_path / "x.parquet"), "--block-rows", rows)
    assert refused.value.code == 2
    assert f"argument --block-rows: {rows!r} is not a whole number above 0" in capsys.readouterr().err


def test_an_unknown_method_type_is_named_with_its_file(run, tmp_path):
    with np.load(run / "run_a" / "models" / "knn.npz") as archive:
        arrays = dict(archive)
    header = json.loads(str(arrays["header"]))
    arrays["header"] = json.dumps({**header, "method_type": "transformer"})
    np.savez(tmp_path / "future.npz", **arrays)
    message = _refusal(run, "--out", str(tmp_path / "x.parquet"), model=tmp_path / "future.npz")
    assert f"{tmp_path / 'future.npz'}: unknown method type 'transformer' in the model file's header" in message


@pytest.mark.parametrize("content, why", [(b"", "EOFError"), (b"\x80\x04random bytes" * 10, "ValueError"),
                                          (b"PK\x03\x04 a cut zip", "BadZipFile")])
def test_a_file_that_is_no_npz_archive_is_named(run, tmp_path, content, why):
    (tmp_path / "bad.npz").write_bytes(content)
    message = _refusal(run, "--out", str(tmp_path / "x.parquet"), spectra=tmp_path / "bad.npz")
    assert message.startswith(f"labeltransfer label: {tmp_path / 'bad.npz'}: not a .npz archive of sampled spectra "
                              f"({why}")
    message = _refusal(run, "--out", str(tmp_path / "x.parquet"), "--domain", str(tmp_path / "bad.npz"))
    assert message.startswith(f"labeltransfer label: {tmp_path / 'bad.npz'}: not a .npz archive of a flags' training domain")
    assert not (tmp_path / "x.parquet").exists()


def test_an_error_is_one_line_and_debug_shows_the_traceback(run, tmp_path):
    command = [sys.executable, "-m", "labeltransfer.cli", "label", "--model", str(run / "run_a/models/knn.npz"),
               "--spectra", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "x.parquet")]
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}  # this checkout's package, as conftest imports it
    plain = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.splitlines()[-1] == f"labeltransfer label: {tmp_path / 'missing.npz'}: No such file or directory"
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True, env=environment)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("FileNotFoundError")


def test_a_catalogue_without_the_flags_warns_and_says_so(run, tmp_path, caplog):
    _label(run, "--out", str(tmp_path / "bare.parquet"))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["no --sample/--split or --domain: the out-of-distribution flags (bits 1, 2, 4) are not "
                        "computed, 0 for every source (the catalogue's provenance says so)"]
    assert catalogue_metadata(tmp_path / "bare.parquet")["out_of_distribution_flags"]["computed"] is False
    caplog.clear()
    _label(run, "--out", str(tmp_path / "flagged.parquet"), "--domain", str(run / "domain.npz"))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    flags = catalogue_metadata(tmp_path / "flagged.parquet")["out_of_distribution_flags"]
    assert flags["computed"] is True and flags["against"]["flags_domain"]["file"] == str(run / "domain.npz")


def test_a_payne_model_labels_a_user_s_stars_and_flags_its_misfits(run, tmp_path):
    from labeltransfer.methods import Payne

    sample = build_sample(synthetic_stars(400, seed=5), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    train, validation = sample.subset(np.arange(300)), sample.subset(np.arange(300, 360))
    model = Payne(hidden_sizes=[16], epochs=3, patience=2, restarts=2, prior_components=2).fit(
        train.spectra.select_aux([]), train.labels, train.label_err, train.label_names,
        validation=(validation.spectra.select_aux([]), validation.labels, validation.label_err),
        extinction=(train.extinction_k, validation.extinction_k))
    model.provenance_ = {"sample": "s", "split": "p", "seed": 0}
    model.save(tmp_path / "payne.npz")
    domain = TrainingDomain(train.spectra.select_aux([]), train.labels,
                            model.predict(validation.spectra.select_aux([]))[0], 0)
    SurveyModel("payne", model, tmp_path / "payne.npz", domain,
                model.misfit_baseline(train.spectra.select_aux([]))).write_domain(tmp_path / "domain.npz")
    cli(["label", "--model", str(tmp_path / "payne.npz"), "--spectra", str(run / "spectra.npz"), "--domain",
         str(tmp_path / "domain.npz"), "--out", str(tmp_path / "labels.parquet")])
    catalogue = read_catalogue([tmp_path / "labels.parquet"])
    catalogue = catalogue.sort_values("source_id")
    assert len(catalogue) == 40 and np.all(np.isfinite(catalogue[["teff", "teff_err", "logg", "logg_err"]]))
    assert catalogue_metadata(tmp_path / "labels.parquet")["out_of_distribution_flags"]["computed"] is True
    # the model's own flag: where the star's reduced chi-square is beyond what 99% of training stars reach
    with np.load(run / "spectra.npz") as given:
        spectra = Spectra(given["flux"], given["flux_error"], given["wavelength"], np.empty((40, 0)), ())
    flagged = model.fit_stars(spectra)["reduced_chi2"] > model.misfit_baseline(train.spectra.select_aux([]))
    np.testing.assert_array_equal((catalogue["flags"].to_numpy() & FLAGS["model"]) > 0, flagged)
