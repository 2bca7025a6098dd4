"""The survey stage's chunk job: label one chunk with every selected model (the downloads:
``archives.fetch_survey_file``; the gather: ``survey_summary``)."""

from pathlib import Path

from ..methods import load_model_file
from ..survey import SurveyModel, label_file
from .modelling import training_reference

__all__ = ["label_chunk"]


def label_chunk(*, chunk_path, model_paths, methods, sample_path, split_path, seed, block_rows, threads, metadata,
                catalogue_paths):
    """Label one chunk with each method's trained model (flags from its training set) into its catalogue."""
    models = []
    for name, path in zip(methods, model_paths):
        model = load_model_file(path).set_params(threads=threads)
        reference_spectra, reference = training_reference(sample_path, split_path, model, path, seed)
        models.append(SurveyModel(name, model, Path(path), reference, reference_spectra))
    label_file(chunk_path, models, catalogue_paths, block_rows=block_rows, threads=threads, metadata=metadata)
