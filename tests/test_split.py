import numpy as np
import pytest

from labeltransfer.preprocess import split_sample


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
