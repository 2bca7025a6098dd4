"""The frozen train / validation / test split: made once per run, grouped by star, checked on every read.

Rows of one physical star never straddle two splits: rows that share a Gaia source_id or an
identical spectrum (two APOGEE IDs joined to one Gaia source, or to one LAMOST spectrum) form
one group, and groups are assigned whole. (A repeated APOGEE ID cannot reach a sample: the
readers keep one row per ID, and the split file is keyed by it.)

The split is written with its sample (:func:`freeze_split`), which records the split's
fingerprint: which IDs are in which split. Reading it (:func:`read_split`) requires every sample
row exactly once and no split empty, and then the recorded fingerprint, so that any edit of
``split.csv`` that moves a star to another split (test stars re-marked ``train``, a train and a
test star swapped, a validation star marked ``test``) is refused: the test split is never
chosen by hand. An edit that moves no star (rows re-ordered, CRLF line endings, quoting) leaves
the fingerprint as it was and is accepted. The fingerprints of a sample and of its split are
also recorded in every model trained on them (:mod:`labeltransfer.pipeline.training`).
"""

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["SPLITS", "SplitError", "star_groups", "split_sample", "write_split", "freeze_split", "read_split",
           "split_fingerprint", "table_fingerprint", "draw_test_rows"]

SPLITS = ("train", "validation", "test")


class SplitError(ValueError):
    """A split file that does not assign every sample row to exactly one non-empty split, or not
    the split made with the sample."""


def star_groups(n, source_ids=None, flux=None):
    """Group number of each row: rows sharing a Gaia source_id (> 0) or a spectrum are one star.

    Parameters
    ----------
    n : int
        Number of rows.
    source_ids : array of int, shape (n,), optional
        Gaia source_ids; 0 or below means none.
    flux : ndarray, shape (n, n_pixels), optional
        Spectra; rows with identical flux are one star.

    Returns
    -------
    ndarray of int, shape (n,)
        Groups numbered in order of first appearance (all rows distinct: ``0 .. n-1``).
    """
    keys = [np.arange(n)]  # every row its own key, so that a row without a shared key is a group
    if source_ids is not None:
        source_ids = np.asarray(source_ids, dtype=np.int64)
        codes = pd.factorize(source_ids)[0]
        keys.append(np.where(source_ids > 0, codes, -1))
    if flux is not None:
        digests = [hashlib.blake2b(np.ascontiguousarray(row).tobytes(), digest_size=16).digest() for row in flux]
        keys.append(pd.factorize(pd.Series(digests))[0])
    rows, columns, offset = [], [], n
    for codes in keys:
        has = codes >= 0
        rows.append(np.flatnonzero(has))
        columns.append(codes[has] + offset)
        offset += int(codes.max(initial=-1)) + 1
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    graph = coo_matrix((np.ones(rows.size), (rows, columns)), shape=(offset, offset))
    _, component = connected_components(graph, directed=False)
    return pd.factorize(component[:n])[0]


def split_sample(ids, fractions, seed, groups=None):
    """A seeded random split of the rows into train / validation / test, whole groups at a time.

    Parameters
    ----------
    ids : array of str, shape (n,)
    fractions : dict
        ``train``, ``validation``, ``test`` fractions of the rows, summing to one.
    seed : int
    groups : array of int, shape (n,), optional
        Group of each row (:func:`star_groups`); a group goes to one split. Default: every
        row its own group.

    Returns
    -------
    pandas.DataFrame with columns ``apogee_id`` and ``split``.
    """
    total = sum(fractions[s] for s in SPLITS)
    if not np.isclose(total, 1.0):
        raise ValueError(f"split fractions must sum to 1, got {total:g} ({fractions})")
    groups = np.arange(len(ids)) if groups is None else pd.factorize(np.asarray(groups))[0]
    sizes = np.bincount(groups)
    order = np.random.default_rng(seed).permutation(len(sizes))
    rows_before = np.concatenate([[0], np.cumsum(sizes[order])[:-1]])
    n_train = int(round(fractions["train"] * len(ids)))
    n_val = int(round(fractions["validation"] * len(ids)))
    group_split = np.empty(len(sizes), dtype=object)
    group_split[order] = np.where(rows_before < n_train, "train",
                                  np.where(rows_before < n_train + n_val, "validation", "test"))
    return pd.DataFrame({"apogee_id": ids, "split": group_split[groups]})


def write_split(split, path):
    """Write the split table as CSV."""
    split.to_csv(path, index=False)


def freeze_split(sample, split, sample_path, split_path):
    """Write a sample and its split together, the split's fingerprint recorded in the sample.

    Parameters
    ----------
    sample : LabelledSample
    split : pandas.DataFrame
        :func:`split_sample`'s table of the sample's IDs.
    sample_path, split_path : path
        Where the sample (``.npz``) and the split (``.csv``) are written.
    """
    replace(sample, split_fingerprint=table_fingerprint(split)).save(sample_path)
    write_split(split, split_path)


def read_split(path, sample):
    """Row numbers of each split, after checking the file against the sample and its recorded split.

    Parameters
    ----------
    path : path
        A split file (``apogee_id``, ``split``).
    sample : LabelledSample
        The sample read from the file written with the split (:func:`freeze_split`): its IDs,
        in row order, and the split's recorded fingerprint.

    Returns
    -------
    dict ``{split: ndarray of row numbers}``

    Raises
    ------
    SplitError
        A missing column, an unknown split name, an ID listed twice, an ID that is not in the
        sample, a sample row the file does not list, or an empty split (the file and up to five
        offending IDs are named); or a split other than the one made with the sample (the file,
        the sample's file and how to make a split anew are named).
    """
    table = pd.read_csv(path, dtype={"apogee_id": str, "split": str})
    missing = [c for c in ("apogee_id", "split") if c not in table.columns]
    if missing:
        raise SplitError(f"{path}: missing column(s) {', '.join(missing)}")
    unknown = sorted(set(table["split"].dropna()) - set(SPLITS))
    if unknown or table["split"].isna().any():
        raise SplitError(f"{path}: unknown or empty split name(s) {unknown}; use {', '.join(SPLITS)}")
    sample_ids = pd.Series(sample.apogee_id)
    problems = {
        "listed more than once": table.loc[table["apogee_id"].duplicated(), "apogee_id"],
        "not in the sample": table.loc[~table["apogee_id"].isin(sample_ids), "apogee_id"],
        "in the sample but not in the file": sample_ids[~sample_ids.isin(table["apogee_id"])],
    }
    for what, offending in problems.items():
        if len(offending):
            raise SplitError(f"{path}: {len(offending)} IDs {what} (e.g. {', '.join(offending.unique()[:5])}); "
                             "every star of the sample must be in exactly one split")
    position = pd.Index(sample.apogee_id).get_indexer(table["apogee_id"])
    rows = {name: np.sort(position[(table["split"] == name).to_numpy()]) for name in SPLITS}
    empty = [name for name, r in rows.items() if r.size == 0]
    if empty:
        raise SplitError(f"{path}: the {', '.join(empty)} split(s) hold no star")
    if split_fingerprint(sample.apogee_id, rows) != sample.split_fingerprint:
        counts = ", ".join(f"{len(r)} {name}" for name, r in rows.items())
        sample_file = sample.path or "the sample"
        raise SplitError(f"{path} ({counts}) is not the split made with {sample_file}: the split is frozen (the "
                         f"test stars are never chosen by hand); to make one anew, delete "
                         f"{Path(sample.path or path).parent}/ and rerun snakemake, or change `seed` in the config")
    return rows


def split_fingerprint(sample_ids, rows):
    """sha256 (hex) of which IDs are in which split."""
    digest = hashlib.sha256()
    for name in SPLITS:
        digest.update(name.encode() + b":" + "\n".join(np.sort(np.asarray(sample_ids)[rows[name]])).encode())
    return digest.hexdigest()


def table_fingerprint(split):
    """:func:`split_fingerprint` of a split table (``apogee_id``, ``split``), whatever its row order."""
    ids, names = split["apogee_id"].to_numpy(), split["split"].to_numpy()
    return split_fingerprint(ids, {name: np.flatnonzero(names == name) for name in SPLITS})


def draw_test_rows(rows, max_stars, seed):
    """At most ``max_stars`` of the test rows of ``rows`` (``read_split``'s), drawn with ``seed``, in
    sample order: the stars every diagnostic of a run looks at."""
    test = rows["test"]
    if len(test) > max_stars:
        test = np.sort(np.random.default_rng(seed).choice(test, max_stars, replace=False))
    return test
