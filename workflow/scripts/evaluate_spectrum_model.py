"""How well one method's spectrum model describes the spectra: the validation stars' reduced chi-square per
S/N bin, and the test stars' fitted extinction against the reference."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from _method_job import method_job
from labeltransfer.logs import log_to
from labeltransfer.pipeline.spectrum_model import evaluate_spectrum_model

with log_to(snakemake.log[0]):
    evaluate_spectrum_model(**method_job(snakemake), model_path=snakemake.input.model, gpus=snakemake.resources.gpu,
                            snr_bins=snakemake.params.snr_bins, table_path=snakemake.output.table,
                            fits_path=snakemake.output.fits)
