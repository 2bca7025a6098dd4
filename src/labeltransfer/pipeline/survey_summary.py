"""The survey stage's gather: one method's catalogue chunks read one at a time into a summary and a figure."""

import json
import logging

from ..survey.catalogue import METADATA_KEY
from ..survey.plots import plot_survey
from ..survey.summary import SurveyAccumulator

__all__ = ["gather_survey"]

log = logging.getLogger(__name__)


def gather_survey(*, catalogue_paths, labels, method, summary_path, figure_path):
    """Read a method's catalogue chunks one at a time into a summary table and the survey figure."""
    import pyarrow.parquet as pq

    accumulator = SurveyAccumulator({label: settings["range"] for label, settings in labels.items()})
    for path in catalogue_paths:
        table = pq.read_table(path)
        provenance = json.loads((table.schema.metadata or {}).get(METADATA_KEY, b"{}"))
        accumulator.add(table.to_pandas(), provenance.get("skipped_rows"))
    accumulator.summary(method).to_csv(summary_path, index=False)
    log.info("%s: %d sources in %d chunks, %.1f%% flagged; input rows left out: %d damaged, %d without a spectrum",
             method, accumulator.n_sources, accumulator.n_chunks,
             100 * accumulator.flagged["any"] / max(accumulator.n_sources, 1), accumulator.skipped.counts["damaged"],
             accumulator.skipped.counts["no_spectrum"])
    plot_survey(accumulator, method, figure_path)
