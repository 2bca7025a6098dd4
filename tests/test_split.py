"""The frozen split: seeded, grouped by star, and checked whenever it is read."""

import numpy as np
import pandas as pd
import pytest

from labeltransfer.split import SplitError, read_split, split_fingerprint, split_sample, star_groups, write_split


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
    ids = np.array([f"2M{i:04d}" for i in range(40)])
    write_split(split_sample(ids, {"train": 0.5, "validation": 0.25, "test": 0.25}, seed=0), tmp_path / "split.csv")
    return ids, tmp_path / "split.csv"


def test_read_split_gives_every_row_once(written):
    ids, path = written
    rows = read_split(path, ids)
    assert sorted(np.concatenate(list(rows.values()))) == list(range(40))
    assert len(split_fingerprint(ids, rows)) == 64


@pytest.mark.parametrize("edit, message", [
    (lambda t: pd.concat([t, t[t["split"] == "test"].assign(split="train")]), r"10 IDs listed more than once \(e\.g\."),
    (lambda t: t.iloc[1:], r"1 IDs in the sample but not in the file \(e\.g\. 2M0000\)"),
    (lambda t: pd.concat([t, pd.DataFrame({"apogee_id": ["2Mnobody"], "split": ["train"]})]),
     r"1 IDs not in the sample \(e\.g\. 2Mnobody\)"),
    (lambda t: t.assign(split=t["split"].replace("validation", "train")), r"the validation split\(s\) hold no star"),
    (lambda t: t.assign(split=t["split"].replace("test", "tset")), r"unknown or empty split name\(s\) \['tset'\]"),
])
def test_edited_split_is_refused_naming_the_file_and_the_ids(written, edit, message):
    ids, path = written
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(SplitError, match=rf"split\.csv: {message}"):
        read_split(path, ids)


def test_fingerprint_tells_splits_apart(written):
    ids, path = written
    rows = read_split(path, ids)
    moved = {**rows, "train": rows["train"][1:], "test": np.sort(np.r_[rows["test"], rows["train"][:1]])}
    assert split_fingerprint(ids, rows) != split_fingerprint(ids, moved)
