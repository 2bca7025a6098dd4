"""What a labelled survey's catalogue holds, gathered one chunk at a time: counts, flags, label
histograms and a sky map."""

import numpy as np
import pandas as pd

from ..diagnostics.ood import SURVEY_FLAGS
from ..io import SkippedRows

__all__ = ["SKY_LEVEL", "SurveyAccumulator"]

#: HEALPix level of the sky map (12,288 pixels of 3.4 deg^2); the Gaia source_id holds the level-12
#: index in its top bits (source_id // 2^35).
SKY_LEVEL = 5
#: Bins per label of the density figures and of the quantiles of the summary.
N_BINS = 400


class SurveyAccumulator:
    """Counts, flags, label histograms and a sky map of a survey catalogue, one chunk at a time
    (memory bounded by a chunk, not by the survey).

    Parameters
    ----------
    ranges : dict of str to (float, float)
        Each label's range (the config's ``labels: <label>: range``); values outside count in the
        totals but not in the histograms.
    """

    def __init__(self, ranges):
        self.edges = {label: np.linspace(lo, hi, N_BINS + 1) for label, (lo, hi) in ranges.items()}
        self.histograms = {label: np.zeros(N_BINS) for label in ranges}
        self.pairs = {pair: np.zeros((N_BINS // 4, N_BINS // 4)) for pair in (("teff", "logg"), ("fe_h", "alpha_m"))
                      if set(pair) <= set(ranges)}
        self.sky_sum = np.zeros(12 * 4 ** SKY_LEVEL)
        self.sky_count = np.zeros_like(self.sky_sum)
        self.sky_label = "fe_h" if "fe_h" in ranges else next(iter(ranges))
        self.n_sources, self.n_chunks = 0, 0
        self.missing = dict.fromkeys(ranges, 0)
        self.flagged = dict.fromkeys(["any", *SURVEY_FLAGS], 0)
        self.skipped = SkippedRows()

    def add(self, table, skipped_rows=None):
        """Add one catalogue chunk (a DataFrame of :func:`labeltransfer.survey.labelling.label_file`) and the rows of
        its input left out (its provenance's ``skipped_rows``: ``{"damaged": n, "no_spectrum": n}``)."""
        for reason, count in (skipped_rows or {}).items():
            self.skipped.add(reason, count)
        self.n_chunks += 1
        self.n_sources += len(table)
        flags = table["flags"].to_numpy()
        self.flagged["any"] += int(np.sum(flags > 0))
        for name, bit in SURVEY_FLAGS.items():
            self.flagged[name] += int(np.sum((flags & bit) > 0))
        for label, edges in self.edges.items():
            values = table[label].to_numpy(float)
            self.missing[label] += int(np.sum(~np.isfinite(values)))
            self.histograms[label] += np.histogram(values[np.isfinite(values)], edges)[0]
        for (x, y), counts in self.pairs.items():
            both = np.isfinite(table[x]) & np.isfinite(table[y])
            counts += np.histogram2d(table.loc[both, x], table.loc[both, y],
                                     [self.edges[x][::4], self.edges[y][::4]])[0]
        pixel = (table["source_id"].to_numpy(np.int64) >> np.int64(35 + 2 * (12 - SKY_LEVEL)))
        value = table[self.sky_label].to_numpy(float)
        known = np.isfinite(value) & (pixel >= 0) & (pixel < len(self.sky_sum))
        np.add.at(self.sky_sum, pixel[known], value[known])
        np.add.at(self.sky_count, pixel[known], 1)

    def quantile(self, label, q):
        """The ``q`` quantile of a label (to a bin of its histogram), NaN without values in range."""
        counts = self.histograms[label]
        if counts.sum() == 0:
            return np.nan
        cumulative = np.cumsum(counts) / counts.sum()
        centres = 0.5 * (self.edges[label][1:] + self.edges[label][:-1])
        return float(centres[np.searchsorted(cumulative, q)])

    def summary(self, method):
        """A table of quantity, value: counts (sources, chunks, input rows left out by why), flagged
        fractions, and each label's 5/50/95th percentiles."""
        rows = [("n_sources", self.n_sources), ("n_chunks", self.n_chunks)]
        rows += [(f"n_rows_left_out_{reason}", count) for reason, count in self.skipped.counts.items()]
        rows += [(f"flagged_{name}_fraction", count / max(self.n_sources, 1)) for name, count in self.flagged.items()]
        for label in self.edges:
            rows += [(f"{label}_missing", self.missing[label])]
            rows += [(f"{label}_p{int(100 * q):02d}", self.quantile(label, q)) for q in (0.05, 0.5, 0.95)]
        return pd.DataFrame({"method": method, "quantity": [r[0] for r in rows], "value": [r[1] for r in rows]})
