"""The stars on which variants are compared and settings chosen: never the test split.

The test split is scored once, by the workflow's predict and evaluate rules. A bench or study
that compares the accuracy of variants fits them on the training split less a held-out tenth,
on which the methods that need one stop early and calibrate their uncertainties, and scores
them on the validation split, which no variant has seen.
"""

import numpy as np

from .split import read_split

__all__ = ["STOP_FRACTION", "selection_rows"]

#: Fraction of the training split held out for early stopping and calibration of the variants.
STOP_FRACTION = 0.1


def selection_rows(split_path, sample_ids, seed, stop_fraction=STOP_FRACTION):
    """Rows to fit, stop early on and score variants on.

    Parameters
    ----------
    split_path : path
        The workflow's frozen split.
    sample_ids : array of str
        The sample's IDs, in row order.
    seed : int
        Seed of the held-out part of the training split.
    stop_fraction : float

    Returns
    -------
    dict ``fit`` (training rows less the held-out ones), ``stop`` (held out: early stopping
    and calibration), ``score`` (the validation split); no test row.
    """
    rows = read_split(split_path, sample_ids)
    train = np.random.default_rng(seed).permutation(rows["train"])
    n_stop = max(1, int(round(stop_fraction * len(train))))
    return {"fit": np.sort(train[n_stop:]), "stop": np.sort(train[:n_stop]), "score": rows["validation"]}
