"""Helpers the readers share for their tables."""

import numpy as np

__all__ = ["best_row_per_id"]


def best_row_per_id(ids, score):
    """Row numbers that keep one row per id, the one of highest ``score`` (the first of equals;
    NaN lowest), in their original order."""
    ids = np.asarray(ids)
    score = np.nan_to_num(np.asarray(score, dtype=float), nan=-np.inf)
    order = np.lexsort((np.arange(len(ids)), -score, ids))  # by id, then highest score, then first
    _, first = np.unique(ids[order], return_index=True)
    return np.sort(order[first])
