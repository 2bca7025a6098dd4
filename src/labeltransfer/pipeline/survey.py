"""The survey stage's jobs: the manifest and chunk downloads, the training side of each model's flags
(computed once), a chunk labelled with every selected model, and the gather of one method's
catalogue chunks into a summary and a figure."""

import json
import logging
from pathlib import Path


__all__ = ["fetch_survey_file", "flagging_models", "write_survey_domain", "label_chunk", "gather_survey"]

log = logging.getLogger(__name__)

# The jobs of this stage import what each needs inside its function: a download job imports no
# method, a chunk job no figure code, the gather no downloader (their code digests follow the same
# line: labeltransfer.code_version).


def fetch_survey_file(*, url, path, timeout, manifest_path=None):
    """Download the manifest (``manifest_path`` None) or a chunk with the checksum the manifest gives it."""
    from ..io.checksums import read_checksum_manifest
    from ..io.remote import RemoteFile, download

    checksum = None
    if manifest_path is not None:
        name = Path(path).name
        checksums = read_checksum_manifest(Path(manifest_path).read_text())
        if name not in checksums:
            raise ValueError(f"{manifest_path} lists no {name}: the archive publishes no such chunk")
        checksum = checksums[name]
    download(RemoteFile(url, Path(path), checksum), timeout=timeout)


def flagging_models(names, model_paths, threads, sample_path, split_path, seed):
    """The trained models as :class:`~labeltransfer.survey.labelling.SurveyModel`, each with its side of
    the flags (:func:`~labeltransfer.pipeline.jobs.training_domains`: the label bit's threshold from the
    model's predictions of the validation split), from the run's sample and split (a model not trained
    on them with this seed is refused); the sample, split and seed are named in each one's provenance."""
    from ..methods.device import load_for_job
    from ..survey.labelling import SurveyModel
    from .jobs import training_domains

    trained = [load_for_job(path, threads) for path in model_paths]
    domains = training_domains(sample_path, split_path, trained, model_paths, seed)
    training_set = {"sample": str(sample_path), "split": str(split_path), "seed": seed}
    return [SurveyModel(name, model, Path(path), domain, model.misfit_baseline(spectra), training_set=training_set)
            for name, model, path, (spectra, domain) in zip(names, trained, model_paths, domains)]


def write_survey_domain(*, method, model_path, sample_path, split_path, seed, threads, domain_path):
    """Save a method's side of the flags for the chunk jobs (:meth:`SurveyModel.write_domain`),
    so that no chunk job reads the training set."""
    survey_model, = flagging_models([method], [model_path], threads, sample_path, split_path, seed)
    survey_model.write_domain(domain_path)


def label_chunk(*, chunk_path, model_paths, domain_paths, methods, block_rows, threads, metadata,
                catalogue_paths):
    """Label one chunk with each method's trained model (flags from its saved domain) into its catalogue."""
    from ..methods.device import load_for_job
    from ..survey.labelling import SurveyModel, label_file

    models = [SurveyModel(name, load_for_job(path, threads), Path(path)).read_domain(domain)
              for name, path, domain in zip(methods, model_paths, domain_paths)]
    label_file(chunk_path, models, catalogue_paths, block_rows=block_rows, threads=threads, metadata=metadata)


def gather_survey(*, catalogue_paths, labels, method, summary_path, figure_path):
    """Read a method's catalogue chunks one at a time into a summary table and the survey figure."""
    import pyarrow.parquet as pq

    from ..survey.catalogue import METADATA_KEY
    from ..survey.plots import plot_survey
    from ..survey.summary import SurveyAccumulator

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
