"""The abundance test: whether each method measures [alpha/M] from the spectrum or infers it from its
other labels (:mod:`labeltransfer.diagnostics.abundance`)."""

import logging

from ..data.sample import LabelledSample
from ..data.split import read_split
from ..diagnostics.abundance import abundance_or_correlation
from .files import read_predictions

__all__ = ["evaluate_abundance"]

log = logging.getLogger(__name__)


def evaluate_abundance(*, methods, prediction_paths, sample_path, split_path, labels, seed, table_path):
    """Whether each method measures [alpha/M] from the spectrum (:mod:`labeltransfer.diagnostics.abundance`)."""
    predictions = read_predictions(methods, prediction_paths)
    sample = LabelledSample.load(sample_path)
    train = read_split(split_path, sample)["train"]
    table = abundance_or_correlation(predictions, sample.labels[train], sample.label_names, seed=seed)
    table.to_csv(table_path, index=False)
    for _, r in table.iterrows():
        log.info("%s, %s stars: [alpha/M] scatter %.4f against the baseline's %.4f: %s", r["method"], r["subset"],
                 r["scatter"], r["baseline_scatter"], r["verdict"])
