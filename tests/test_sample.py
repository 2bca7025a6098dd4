"""The frozen split: seeded, grouped by star, and checked whenever it is read: an edit that moves a
star to another split is refused by every reader of the workflow, one that moves none is accepted."""

import re
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from labeltransfer.cli import main as cli
from labeltransfer.methods import load_method
from labeltransfer.pipeline.abundance import evaluate_abundance
from labeltransfer.pipeline.learning_curve import learning_curve
from labeltransfer.pipeline.prediction import predict_method
from labeltransfer.pipeline.sample import finish_sample
from labeltransfer.pipeline.survey import write_survey_domain
from labeltransfer.pipeline.training import train_method
from labeltransfer.data.sample import LabelledSample, build_sample
from labeltransfer.data.selection import selection_rows
from labeltransfer.data.split import (SplitError, freeze_split, read_split, split_fingerprint, split_sample, star_groups,
                                 table_fingerprint)
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True}}
QUALITY = {"min_snr": 5, "max_masked_fraction": 0.1}


def test_split_fractions_and_seed():
    ids = np.array([f"s{i}" for i in range(1000)])
    fractions = {"train": 0.7, "validation": 0.15, "test": 0.15}
    a = split_sample(ids, fractions, seed=5)
    b = split_sample(ids, fractions, seed=5)
    c = split_sample(ids, fractions, seed=6)
    assert a["split"].value_counts().to_dict() == {"train": 700, "validation": 150, "test": 150}
    assert a.equals(b)
    assert not a["split"].equals(c["split"])
    assert a["apogee_id"].tolist() == ids.tolist()


def test_split_must_sum_to_one():
    with pytest.raises(ValueError, match="sum to 1"):
        split_sample(np.array(["a", "b"]), {"train": 0.7, "validation": 0.2, "test": 0.2}, seed=0)


def test_rows_of_one_star_share_a_group_through_any_key():
    source_ids = np.array([10, 20, 20, 0, 0, 0, 30])  # rows 1 and 2: two APOGEE IDs of one Gaia source
    flux = np.arange(14.0).reshape(7, 2)
    flux[5] = flux[4]  # rows 4 and 5: the same spectrum (one LAMOST spectrum matched twice)
    flux[6] = flux[0]  # row 6: the same spectrum as row 0, another source_id
    groups = star_groups(7, source_ids, flux)
    assert groups.tolist() == [0, 1, 1, 2, 3, 3, 0]
    assert star_groups(3).tolist() == [0, 1, 2]


def test_a_group_is_never_split():
    ids = np.array([f"s{i}" for i in range(600)])
    groups = np.arange(600) // 3  # 200 stars of three rows each
    table = split_sample(ids, {"train": 0.7, "validation": 0.15, "test": 0.15}, seed=1, groups=groups)
    assert table.groupby(groups)["split"].nunique().max() == 1
    assert abs((table["split"] == "train").mean() - 0.7) < 0.03


def test_singleton_groups_give_the_ungrouped_split():
    ids = np.array([f"s{i}" for i in range(500)])
    fractions = {"train": 0.75, "validation": 0.1, "test": 0.15}
    assert split_sample(ids, fractions, 42).equals(split_sample(ids, fractions, 42, groups=star_groups(len(ids))))


@pytest.fixture
def written(tmp_path):
    """A 40-star sample (IDs 2M0000..2M0039) and its split, written together as the workflow does, and read back."""
    stars = build_sample(synthetic_stars(40, seed=1), LABELS, QUALITY, [])
    stars = replace(stars, apogee_id=np.array([f"2M{i:04d}" for i in range(40)]))
    freeze_split(stars, split_sample(stars.apogee_id, {"train": 0.5, "validation": 0.25, "test": 0.25}, seed=0),
                 tmp_path / "sample.npz", tmp_path / "split.csv")
    return LabelledSample.load(tmp_path / "sample.npz"), tmp_path / "split.csv"


def test_read_split_gives_every_row_once(written):
    sample, path = written
    rows = read_split(path, sample)
    assert sorted(np.concatenate(list(rows.values()))) == list(range(40))
    assert split_fingerprint(sample.apogee_id, rows) == sample.split_fingerprint  # what models record, as before
    assert len(sample.split_fingerprint) == 64


@pytest.mark.parametrize("edit, message", [
    (lambda t: pd.concat([t, t[t["split"] == "test"].assign(split="train")]), r"10 IDs listed more than once \(e\.g\."),
    (lambda t: t.iloc[1:], r"1 IDs in the sample but not in the file \(e\.g\. 2M0000\)"),
    (lambda t: pd.concat([t, pd.DataFrame({"apogee_id": ["2Mnobody"], "split": ["train"]})]),
     r"1 IDs not in the sample \(e\.g\. 2Mnobody\)"),
    (lambda t: t.assign(split=t["split"].replace("validation", "train")), r"the validation split\(s\) hold no star"),
    (lambda t: t.assign(split=t["split"].replace("test", "tset")), r"unknown or empty split name\(s\) \['tset'\]"),
])
def test_edited_split_is_refused_naming_the_file_and_the_ids(written, edit, message):
    sample, path = written
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(SplitError, match=rf"split\.csv: {message}"):
        read_split(path, sample)


def test_fingerprint_tells_splits_apart(written):
    sample, path = written
    rows = read_split(path, sample)
    moved = {**rows, "train": rows["train"][1:], "test": np.sort(np.r_[rows["test"], rows["train"][:1]])}
    assert split_fingerprint(sample.apogee_id, rows) != split_fingerprint(sample.apogee_id, moved)


def test_a_sample_of_an_older_version_is_refused_saying_what_to_delete(written, tmp_path):
    with np.load(tmp_path / "sample.npz") as arrays:
        np.savez(tmp_path / "sample.npz", **{k: arrays[k] for k in arrays.files if k != "split_fingerprint"})
    folder = re.escape(str(tmp_path))
    older = rf"^{folder}/sample\.npz: a sample written by an older version of the workflow \(no split_fingerprint\); "
    with pytest.raises(ValueError, match=older + rf"delete {folder}/ and rerun snakemake$"):
        LabelledSample.load(tmp_path / "sample.npz")


def test_a_sample_is_saved_only_with_its_split(tmp_path):
    stars = build_sample(synthetic_stars(10, seed=1), LABELS, QUALITY, [])
    with pytest.raises(ValueError, match=r"sample\.npz: a sample is saved with the fingerprint of its split"):
        stars.save(tmp_path / "sample.npz")
    assert not (tmp_path / "sample.npz").exists()


# The frozen split through the workflow's readers: a task's data folder as prepare_sample writes it,
# a model trained on it and its predictions; each test edits a copy of the split.

ABUNDANCE_LABELS = {**LABELS, "fe_h": {"range": [-2.5, 0.7], "max_err": 0.2, "err_floor": 0.01, "required": False},
                    "alpha_m": {"range": [-0.3, 0.6], "max_err": 0.1, "err_floor": 0.01, "required": False}}
KNN = {"type": "knn", "feature_set": "flux", "params": {"n_neighbours": 3, "n_components": 5}}
SEED = 42


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """results/tiny/data/ (sample.npz, split.csv), a knn model and its predictions, and sampled spectra to label."""
    root = tmp_path_factory.mktemp("finished")
    data = root / "results" / "tiny" / "data"
    data.mkdir(parents=True)
    sample = build_sample(synthetic_stars(150, seed=6), ABUNDANCE_LABELS, QUALITY, [])
    finish_sample(sample, {"max_stars": None, "seed": SEED, "split": {"train": 0.7, "validation": 0.15, "test": 0.15}},
                  data / "sample.npz", data / "split.csv")
    job = {"sample_path": data / "sample.npz", "split_path": data / "split.csv", "method": KNN, "colours": [],
           "seed": SEED, "threads": 1, "gpus": 0}
    train_method(**job, model_path=root / "knn.npz", timing_path=root / "knn.fit.json")
    predict_method(**job, model_path=root / "knn.npz", predictions_path=root / "knn.csv", timing_path=root / "knn.json")
    np.savez(root / "spectra.npz", source_id=sample.source_id[:5], flux=sample.spectra.flux[:5],
             flux_error=sample.spectra.flux_error[:5], wavelength=sample.spectra.wavelength)
    return root


@pytest.fixture
def task(finished, tmp_path):
    """A copy of the finished task, its split to edit."""
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _data(task):
    return task / "results" / "tiny" / "data"


def _train(task):
    train_method(sample_path=_data(task) / "sample.npz", split_path=_data(task) / "split.csv", method=KNN, colours=[],
                 seed=SEED, threads=1, gpus=0, model_path=task / "retrained.npz", timing_path=task / "retrained.json")


def _predict(task):
    predict_method(model_path=task / "knn.npz", sample_path=_data(task) / "sample.npz",
                   split_path=_data(task) / "split.csv", method=KNN, colours=[], seed=SEED, threads=1, gpus=0,
                   predictions_path=task / "again.csv", timing_path=task / "again.json")


def _learning_curve(task):
    learning_curve(model_path=task / "knn.npz", sample_path=_data(task) / "sample.npz",
                   split_path=_data(task) / "split.csv", method=KNN, colours=[], seed=SEED, threads=1, gpus=0,
                   sizes=[20], max_stars=10, predictions_path=task / "curve.csv")


def _survey_reference(task):
    write_survey_domain(method="knn", model_path=task / "knn.npz", sample_path=_data(task) / "sample.npz",
                           split_path=_data(task) / "split.csv", seed=SEED, threads=1,
                           domain_path=task / "reference.npz")


def _label_command(task):
    cli(["label", "--model", str(task / "knn.npz"), "--sample", str(_data(task) / "sample.npz"), "--split",
         str(_data(task) / "split.csv"), "--spectra", str(task / "spectra.npz"), "--out", str(task / "labels.parquet")])


def _abundance(task):
    evaluate_abundance(methods=["knn"], prediction_paths=[task / "knn.csv"], sample_path=_data(task) / "sample.npz",
                       split_path=_data(task) / "split.csv", labels=list(ABUNDANCE_LABELS), seed=SEED,
                       table_path=task / "abundance.csv")


def _selection(task):
    selection_rows(_data(task) / "split.csv", LabelledSample.load(_data(task) / "sample.npz"), seed=SEED)


READERS = {"train": _train, "predict": _predict, "diagnostic": _learning_curve, "survey_domain": _survey_reference,
           "label_command": _label_command, "abundance": _abundance, "selection": _selection}


def _moved(table, split_from, split_to, n):
    """The first ``n`` stars of ``split_from`` re-marked ``split_to``."""
    rows = table.index[table["split"] == split_from][:n]
    return table.assign(split=table["split"].mask(table.index.isin(rows), split_to))


def _swapped(table):
    """The first train and the first test star swapped: the same counts, two stars moved."""
    swapped = table["split"].copy()
    pair = [table.index[table["split"] == "train"][0], table.index[table["split"] == "test"][0]]
    swapped[pair] = swapped[pair[::-1]].to_numpy()
    return table.assign(split=swapped)


EDITS = {"test_to_train": lambda t: _moved(t, "test", "train", 10), "swap_train_test": _swapped,
         "validation_to_test": lambda t: _moved(t, "validation", "test", 1)}


def _retrained_on(model_path, split):
    """The model as retraining on ``split`` would leave it (its provenance names that split), so that
    no reader can refuse an edited split by the model's provenance alone."""
    model = load_method("knn", model_path)
    model.provenance_ = {**model.provenance_, "split": table_fingerprint(split)}
    model.save(model_path)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("edit", EDITS)
def test_a_split_edited_by_hand_is_refused_by_every_reader(task, edit, reader):
    split_path = _data(task) / "split.csv"
    table = pd.read_csv(split_path, dtype=str)
    edited = EDITS[edit](table)
    assert sorted(edited["apogee_id"]) == sorted(table["apogee_id"]) and (edited["split"] != table["split"]).any()
    edited.to_csv(split_path, index=False)
    _retrained_on(task / "knn.npz", edited)
    outputs = set(task.rglob("*"))
    with pytest.raises((SplitError, SystemExit), match=(
            rf"{re.escape(str(split_path))} \(\d+ train, \d+ validation, \d+ test\) is not the split made with "
            rf"{re.escape(str(_data(task) / 'sample.npz'))}: the split is frozen \(the test stars are never chosen "
            rf"by hand\); to make one anew, delete {re.escape(str(_data(task)))}/ and rerun snakemake, or change "
            r"`seed` in the config$")):
        READERS[reader](task)
    assert set(task.rglob("*")) == outputs  # nothing written


HARMLESS = {"rows_reordered": lambda path: pd.read_csv(path, dtype=str).sample(frac=1, random_state=0).to_csv(
                path, index=False),
            "crlf_line_endings": lambda path: path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))}


@pytest.mark.parametrize("edit", HARMLESS)
def test_an_edit_that_moves_no_star_is_accepted(task, edit):
    split_path = _data(task) / "split.csv"
    sample = LabelledSample.load(_data(task) / "sample.npz")
    before, written = read_split(split_path, sample), split_path.read_bytes()
    HARMLESS[edit](split_path)
    assert split_path.read_bytes() != written
    after = read_split(split_path, sample)
    assert all(np.array_equal(before[name], after[name]) for name in before)
    _predict(task)  # the model trained on the split as written is accepted, and labels the same stars alike
    assert (task / "again.csv").read_bytes() == (task / "knn.csv").read_bytes()
