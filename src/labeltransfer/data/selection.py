"""The stars on which variants are compared and settings chosen: never the test split.

The test split is scored once, by the workflow's predict and evaluate rules. A bench or study
that compares the accuracy of variants fits them on the training split less a held-out tenth,
on which the methods that need one stop early and calibrate their uncertainties, and scores
them on the validation split, which no variant has seen.
"""

import numpy as np

from .split import read_split, star_groups

__all__ = ["STOP_FRACTION", "selection_rows"]

#: Fraction of the training split held out for early stopping and calibration of the variants.
STOP_FRACTION = 0.1


def selection_rows(split_path, sample, seed, stop_fraction=STOP_FRACTION):
    """Rows to fit, stop early on and score variants on.

    Parameters
    ----------
    split_path : path
        The workflow's frozen split.
    sample : LabelledSample
    seed : int
        Seed of the held-out part of the training split.
    stop_fraction : float
        Fraction of the training rows held out, taken star by star (rows sharing a Gaia
        source_id or a spectrum stay together, as in the split).

    Returns
    -------
    dict ``fit`` (training rows less the held-out ones), ``stop`` (held out: early stopping
    and calibration), ``score`` (the validation split); no test row.
    """
    rows = read_split(split_path, sample)
    train = rows["train"]
    groups = star_groups(len(train), sample.source_id[train], sample.spectra.flux[train])
    order = np.random.default_rng(seed).permutation(groups.max() + 1)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    held = np.argsort(rank[groups], kind="stable")[: max(1, int(round(stop_fraction * len(train))))]
    stop = np.zeros(len(train), dtype=bool)
    stop[held] = True
    stop |= np.isin(groups, groups[stop])  # whole stars
    return {"fit": train[~stop], "stop": train[stop], "score": rows["validation"]}
