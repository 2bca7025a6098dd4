"""Gaia DR3 XP continuous spectra as the bulk-download area publishes them, read block by block.

``XpContinuousMeanSpectrum_*.csv.gz`` (https://cdn.gea.esac.esa.int/Gaia/gdr3/Spectroscopy/
xp_continuous_mean_spectrum/, listed with their MD5 in ``_MD5SUM.txt``): gzipped ECSV
(:mod:`labeltransfer.io.gaia_bulk`), one row per source, a missing band as ``null`` cells. A
chunk holds up to a few hundred thousand sources of about 40 kB of text each (nearly all of it
the 2 x 1,485 coefficient correlations), so it is read ``block_rows`` rows at a time: memory is
bounded by the block, not by the chunk. The DataLink CSV layout is read too, so that a user's own
DataLink reply can be labelled the same way. A damaged row (one whose ``bp_basis_function_id``
cannot be parsed, as in ``XpContinuousMeanSpectrum_614517-614573``, or any row
:mod:`labeltransfer.io.gaia_bulk` calls damaged) is left out and counted; a file of mostly damaged
rows is refused.
"""

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..io import SkippedRows, FileFormatError
from ..io.gaia_bulk import array_column, bulk_tables, read_bulk_blocks, unparsable_integers
from .basis import N_COEFFICIENTS

__all__ = ["XPBulkFormatError", "XPBlock", "read_xp_blocks", "xp_blocks"]

log = logging.getLogger(__name__)

_BANDS = ("bp", "rp")
_N_CORRELATIONS = N_COEFFICIENTS * (N_COEFFICIENTS - 1) // 2
#: The arrays of a band: their lengths and types (the archive's: double coefficients, float errors
#: and correlations; parsed as float64, which Arrow does faster, then stored in these).
_ARRAYS = {"coefficients": (N_COEFFICIENTS, np.float64), "coefficient_errors": (N_COEFFICIENTS, np.float32),
           "coefficient_correlations": (_N_CORRELATIONS, np.float32)}
_COLUMNS = ("source_id", *(f"{band}_{name}" for band in _BANDS for name in _ARRAYS))
#: Columns read, when the file has them, only to tell a damaged row: each must be a whole number or null.
_CHECKED_COLUMNS = ("bp_basis_function_id", "rp_basis_function_id")


class XPBulkFormatError(FileFormatError):
    """An XP chunk that cannot be read (truncated gzip, missing columns, arrays of the wrong length)."""


class XPBlock:
    """The XP coefficients of a block of sources.

    Attributes
    ----------
    source_id : ndarray of int64, shape (n,)
    coefficients, errors : ndarray, shape (n, 2, 55)
        BP then RP (float64 and float32, as the archive's); NaN for a missing band.
    correlations : ndarray of float32, shape (n, 2, 1485)
        Each band's lower triangle of the correlation matrix, row by row, as the archive writes it.
    """

    def __init__(self, source_id, coefficients, errors, correlations):
        self.source_id, self.coefficients, self.errors, self.correlations = (
            source_id, coefficients, errors, correlations)

    def __len__(self):
        return len(self.source_id)

    def has_band(self):
        """Whether each source has each band, shape (n, 2)."""
        return np.isfinite(self.coefficients[:, :, 0])


def read_xp_blocks(path, block_rows=2_000, threads=1, skipped=None):
    """Yield the sources of an XP continuous file (a bulk chunk, a DataLink CSV or its zip reply)
    ``block_rows`` at a time, as :class:`XPBlock` (:func:`xp_blocks`)."""
    for name, handle, columns in bulk_tables(path, XPBulkFormatError):
        yield from xp_blocks(handle, columns, name, block_rows, threads, skipped)


def xp_blocks(handle, columns, name, block_rows=2_000, threads=1, skipped=None):
    """Yield the sources of one XP continuous table (as :func:`labeltransfer.io.gaia_bulk.bulk_tables`
    gives it) ``block_rows`` at a time, as :class:`XPBlock`.

    Rows with neither band are left out (``no_spectrum``), damaged rows too (``damaged``: cells
    missing or too many, a source_id, basis function id or array element that is no number, an
    array of a band the row has that is empty or of another length), each counted in ``skipped``
    (:class:`~labeltransfer.io.SkippedRows`) and logged with an example. ``threads`` > 1
    lets Arrow split and parse the text on its thread pool.

    Raises
    ------
    XPBulkFormatError
        A truncated file, a missing column (named), more than half of the rows read damaged; the
        message names the file.
    """
    skipped = SkippedRows() if skipped is None else skipped
    empty_rows = 0

    def arrays(table, damage):
        nonlocal empty_rows
        empty = pc.and_(*(pc.is_null(table[f"{band}_coefficients"]) for band in _BANDS)).to_numpy(
            zero_copy_only=False)
        if empty.any():
            if not empty_rows:
                log.warning("%s: source %s has neither BP nor RP coefficients: left out (and every such row)",
                            name, table["source_id"][int(np.argmax(empty))])
            empty_rows += int(empty.sum())
            table = table.filter(pa.array(~empty))
        return _arrays(table, damage)

    read = (*_COLUMNS, *(column for column in _CHECKED_COLUMNS if column in columns))
    try:
        for block in read_bulk_blocks(handle, columns, name, read, block_rows, arrays, threads,
                                      XPBulkFormatError, skipped):
            if len(block["source_id"]):
                yield XPBlock(**block)
    except (OSError, EOFError, UnicodeDecodeError, pa.ArrowException) as error:
        raise XPBulkFormatError(f"{name}: cannot read the XP continuous table, it is truncated or damaged "
                                f"({type(error).__name__}: {error})") from error
    if empty_rows:
        log.warning("%s: %d sources without BP and RP coefficients left out", name, empty_rows)
        skipped.add("no_spectrum", empty_rows)


def _arrays(table, damage):
    """The coefficients, their errors and correlations of a table of rows (each with a band at least),
    and which rows are damaged."""
    n = table.num_rows
    source_id = table["source_id"].to_numpy()
    damaged = np.zeros(n, dtype=bool)
    coefficients, errors, correlations = (np.empty((n, 2, length), dtype=dtype) for length, dtype in _ARRAYS.values())
    for b, band in enumerate(_BANDS):
        present = table[f"{band}_coefficients"].is_valid().to_numpy(zero_copy_only=False)
        whole = present.all()  # nearly every block has both bands: no mask then
        rows = slice(None) if whole else np.flatnonzero(present)
        for (name, (length, _)), target in zip(_ARRAYS.items(), (coefficients, errors, correlations)):
            column = f"{band}_{name}"
            cells = table[column] if whole else table[column].filter(pa.array(present))
            values, bad = array_column(cells, length, column, source_id[rows], damage)
            with np.errstate(over="ignore"):  # beyond float32: inf, and the band unusable (XPSampler)
                target[rows, b] = values
            damaged[rows] |= bad
            target[~present, b] = np.nan
    for column in _CHECKED_COLUMNS:
        if column in table.column_names:
            bad = unparsable_integers(table[column])
            if bad.any():
                damage.note(f"{column} of source {source_id[int(np.argmax(bad))]} is no number")
                damaged |= bad
    return {"source_id": source_id, "coefficients": coefficients, "errors": errors, "correlations": correlations,
            "damaged": damaged}
