"""The survey stage's jobs: the training side of each model's flags, computed once, and a chunk
labelled with every selected model (the downloads: ``archives.fetch_survey_file``; the gather:
``survey_summary``)."""

from pathlib import Path

from ..methods import load_model_file
from ..survey.labelling import SurveyModel, label_file
from .modelling import training_domains

__all__ = ["flagging_models", "write_survey_domain", "label_chunk"]


def flagging_models(names, model_paths, threads, sample_path, split_path, seed):
    """The trained models as :class:`~labeltransfer.survey.labelling.SurveyModel`, each with its training
    set's side of the flags, from the run's sample and split (a model not trained on them with
    this seed is refused); the sample, split and seed are named in each one's provenance."""
    trained = [load_model_file(path).set_params(threads=threads) for path in model_paths]
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
    models = [SurveyModel(name, load_model_file(path).set_params(threads=threads), Path(path)).read_domain(domain)
              for name, path, domain in zip(methods, model_paths, domain_paths)]
    label_file(chunk_path, models, catalogue_paths, block_rows=block_rows, threads=threads, metadata=metadata)
