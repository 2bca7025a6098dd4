"""The spectrum-model figure: reduced chi-square per S/N bin, intrinsic scatter, fitted against reference A_K."""

import _package  # noqa: F401  (the workflow's src/ on sys.path)
from labeltransfer.logs import log_to
from labeltransfer.pipeline.spectrum_model import plot_spectrum_model

with log_to(snakemake.log[0]):
    plot_spectrum_model(fits_path=snakemake.input.fits, table_path=snakemake.input.table,
                        method_name=snakemake.wildcards.method, figure_path=snakemake.output.figure)
