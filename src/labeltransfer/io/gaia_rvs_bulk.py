"""Gaia DR3 RVS mean spectra as the bulk-download area publishes them, read block by block.

``RvsMeanSpectrum_*.csv.gz`` (https://cdn.gea.esac.esa.int/Gaia/gdr3/Spectroscopy/
rvs_mean_spectrum/, listed with their MD5 in ``_MD5SUM.txt``): gzipped ECSV
(:mod:`labeltransfer.io.gaia_bulk`), one row per source with its ``flux`` and ``flux_error``
arrays of 2,401 pixels (:data:`labeltransfer.io.gaia_rvs.RVS_WAVELENGTH`). The DataLink ``RAW``
CSV layout, and its zip reply, are read the same way.
"""

import numpy as np
import pyarrow as pa

from .arrays import nonpositive_error
from .gaia_bulk import array_column, bulk_tables, read_bulk_blocks
from .gaia_rvs import RVS_WAVELENGTH, RVSFormatError, masked_error

__all__ = ["read_rvs_blocks", "rvs_blocks"]


def read_rvs_blocks(path, block_rows=2_000, threads=1, skipped=None):
    """Yield ``(source_id, flux, flux_error, nonpositive_error)`` of an RVS file (a bulk chunk, a
    ``RAW`` DataLink CSV or its zip reply) ``block_rows`` sources at a time (:func:`rvs_blocks`)."""
    for name, handle, columns in bulk_tables(path, RVSFormatError):
        yield from rvs_blocks(handle, columns, name, block_rows, threads, skipped)


def rvs_blocks(handle, columns, name, block_rows=2_000, threads=1, skipped=None):
    """Yield ``(source_id, flux, flux_error, nonpositive_error)`` of one RVS table (as
    :func:`labeltransfer.io.gaia_bulk.bulk_tables` gives it), ``block_rows`` sources at a time: flux
    (float32, (n, 2401)) 0 and its error infinite where the archive has no value or an error that is
    not positive, as :func:`labeltransfer.io.gaia_rvs.read_rvs` gives them, and whether a source had
    such an error at a pixel with a flux (:func:`labeltransfer.io.arrays.nonpositive_error`). Damaged rows
    (cells missing or too many, a source_id or value that is no number, an empty array or one of
    another length) are left out and counted in ``skipped``
    (:class:`~labeltransfer.io.SkippedRows`).

    Raises
    ------
    RVSFormatError
        A truncated file, a missing column, more than half of the rows read damaged; the message
        names the file.
    """
    def arrays(table, damage):
        source_id = table["source_id"].to_numpy()
        (flux, flux_damaged), (error, error_damaged) = (
            array_column(table[column], RVS_WAVELENGTH.size, column, source_id, damage)
            for column in ("flux", "flux_error"))
        return {"source_id": source_id, "flux": np.where(np.isfinite(flux), flux, 0.0).astype(np.float32),
                "flux_error": masked_error(flux, error), "nonpositive_error": nonpositive_error(flux, error),
                "damaged": flux_damaged | error_damaged}

    try:
        for block in read_bulk_blocks(handle, columns, name, ("source_id", "flux", "flux_error"), block_rows,
                                      arrays, threads, RVSFormatError, skipped):
            yield block["source_id"], block["flux"], block["flux_error"], block["nonpositive_error"]
    except (OSError, EOFError, UnicodeDecodeError, pa.ArrowException) as error:
        raise RVSFormatError(f"{name}: cannot read the RVS spectra, the file is truncated or damaged "
                             f"({type(error).__name__}: {error})") from error
