"""The survey stage's chunk job: label one chunk with every selected model (the downloads:
``archives.fetch_survey_file``; the gather: ``survey_summary``)."""

from pathlib import Path

from ..methods import load_model_file
from ..survey import SurveyModel, label_file
from .modelling import training_references

__all__ = ["label_chunk"]


def label_chunk(*, chunk_path, model_paths, methods, sample_path, split_path, seed, block_rows, threads, metadata,
                catalogue_paths):
    """Label one chunk with each method's trained model (flags from its training set) into its catalogue."""
    trained = [load_model_file(path).set_params(threads=threads) for path in model_paths]
    references = training_references(sample_path, split_path, trained, model_paths, seed)
    models = [SurveyModel(name, model, Path(path), reference, spectra)
              for name, model, path, (spectra, reference) in zip(methods, trained, model_paths, references)]
    label_file(chunk_path, models, catalogue_paths, block_rows=block_rows, threads=threads, metadata=metadata)
