"""Gaia DR3 XP continuous spectra as the bulk-download area publishes them, read block by block.

``XpContinuousMeanSpectrum_*.csv.gz`` (https://cdn.gea.esac.esa.int/Gaia/gdr3/Spectroscopy/
xp_continuous_mean_spectrum/, listed with their MD5 in ``_MD5SUM.txt``): gzipped ECSV, ``#``
header lines, one row per source, arrays written ``"[v1,v2,...]"``, a missing band as ``null``
cells. A chunk holds up to a few hundred thousand sources of about 40 kB of text each, so it
is read ``block_rows`` rows at a time: memory is bounded by the block, not by the chunk. The
DataLink CSV layout (arrays in ``(v1, v2, ...)``, empty cells) is read too, so that a user's own
DataLink reply can be labelled the same way.

Nearly all of the text is the 2 x 1,485 coefficient correlations of each source, and reading it
is what a survey chunk job spends its time on. So the file is decompressed with ISA-L (``isal``,
about four times zlib's speed), split into cells by Arrow's CSV reader (no Python string per cell)
and each array column parsed by Arrow's string-to-float cast (``python bench/survey_chunk.py``
times each stage).
"""

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from isal import igzip

from . import SurveyFormatError, require
from ..xp_basis import N_COEFFICIENTS

__all__ = ["XPBulkFormatError", "XPBlock", "read_xp_blocks"]

log = logging.getLogger(__name__)

_BANDS = ("bp", "rp")
_N_CORRELATIONS = N_COEFFICIENTS * (N_COEFFICIENTS - 1) // 2
_ARRAYS = {"coefficients": N_COEFFICIENTS, "coefficient_errors": N_COEFFICIENTS,
           "coefficient_correlations": _N_CORRELATIONS}
_COLUMNS = ("source_id", *(f"{band}_{name}" for band in _BANDS for name in _ARRAYS))


class XPBulkFormatError(SurveyFormatError):
    """An XP chunk that cannot be read (truncated gzip, missing columns, arrays of the wrong length)."""


class XPBlock:
    """The XP coefficients of a block of sources.

    Attributes
    ----------
    source_id : ndarray of int64, shape (n,)
    coefficients, errors : ndarray, shape (n, 2, 55)
        BP then RP; NaN for a missing band.
    correlations : ndarray, shape (n, 2, 1485)
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


def read_xp_blocks(path, block_rows=5_000, threads=1):
    """Yield the sources of an XP continuous file ``block_rows`` at a time, as :class:`XPBlock`.

    Rows with neither band are left out, counted and logged with an example. ``threads`` > 1
    lets Arrow split and parse the text on its thread pool.

    Raises
    ------
    XPBulkFormatError
        A truncated or damaged file, a missing column (named), an array of the wrong length
        (its source named); the message names the file.
    """
    path = Path(path)
    empty_rows = 0
    try:
        for table in _tables(path, block_rows, threads > 1):
            require(table.column_names, _COLUMNS, str(path), XPBulkFormatError)
            empty = pc.and_(*(pc.is_null(table[f"{band}_coefficients"]) for band in _BANDS)).to_numpy(
                zero_copy_only=False)
            if empty.any():
                if not empty_rows:
                    log.warning("%s: source %s has neither BP nor RP coefficients: left out (and every such row)",
                                path, table["source_id"][int(np.argmax(empty))])
                empty_rows += int(empty.sum())
                table = table.filter(pa.array(~empty))
            if table.num_rows:
                yield _block(table, path)
    except (OSError, EOFError, UnicodeDecodeError, pa.ArrowException) as error:
        raise XPBulkFormatError(f"{path}: cannot read the XP continuous table, it is truncated or damaged "
                                f"({type(error).__name__}: {error})") from error
    if empty_rows:
        log.warning("%s: %d sources without BP and RP coefficients left out", path, empty_rows)


def _tables(path, block_rows, use_threads):
    """The file's rows as Arrow tables of ``block_rows`` rows (the last one shorter), array cells as strings."""
    opener = igzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        comment_lines, row_bytes = _layout(handle)
    # Arrow reads blocks of bytes, not rows: about block_rows rows a block, and never less than a few
    # rows (a block must hold the longest row)
    block_size = int(min(max(block_rows, 4) * row_bytes * 1.1 + (1 << 20), 2 ** 31 - 1))
    read_options = pa_csv.ReadOptions(skip_rows=comment_lines, block_size=block_size, use_threads=use_threads)
    convert_options = pa_csv.ConvertOptions(
        include_columns=list(_COLUMNS), include_missing_columns=True, strings_can_be_null=True,
        column_types={"source_id": pa.int64(), **{name: pa.string() for name in _COLUMNS[1:]}})
    pending, n_pending = [], 0
    with opener(path, "rb") as handle:
        for batch in pa_csv.open_csv(handle, read_options=read_options, convert_options=convert_options):
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= block_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, block_rows)
                rest = table.slice(block_rows)
                pending, n_pending = rest.to_batches(), rest.num_rows
    if n_pending:
        yield pa.Table.from_batches(pending)


def _layout(handle):
    """The number of ``#`` lines before the column names, and the length of the first row in bytes."""
    comment_lines = 0
    line = handle.readline()
    while line.startswith(b"#"):
        comment_lines += 1
        line = handle.readline()
    return comment_lines, max(len(handle.readline()), len(line))


def _block(table, path):
    n = table.num_rows
    if table["source_id"].null_count:
        raise XPBulkFormatError(f"{path}: {table['source_id'].null_count} rows without a numeric source_id")
    source_id = table["source_id"].to_numpy()
    coefficients = np.full((n, 2, N_COEFFICIENTS), np.nan)
    errors = np.full_like(coefficients, np.nan)
    correlations = np.full((n, 2, _N_CORRELATIONS), np.nan)
    for b, band in enumerate(_BANDS):
        present = table[f"{band}_coefficients"].is_valid().to_numpy(zero_copy_only=False)
        for (name, length), target in zip(_ARRAYS.items(), (coefficients, errors, correlations)):
            column = f"{band}_{name}"
            cells = table[column].filter(pa.array(present)).combine_chunks()
            target[present, b] = _arrays(cells, length, column, source_id[present], path)
    return XPBlock(source_id, coefficients, errors, correlations)


def _arrays(cells, length, column, source_ids, path):
    """Array cells ``"[v1,...]"`` (or ``"(v1, ...)"``) of one column as a (n, length) float array."""
    if cells.null_count:
        first = int(np.argmax(cells.is_null().to_numpy(zero_copy_only=False)))
        raise XPBulkFormatError(f"{path}: {column} of source {source_ids[first]} is empty though the band has "
                                f"coefficients")
    if len(cells) == 0:
        return np.empty((0, length))
    separator = ", " if ", " in cells[0].as_py() else ","
    values = pc.split_pattern(pc.utf8_slice_codeunits(cells, 1, -1), separator)
    counts = pc.list_value_length(values).to_numpy(zero_copy_only=False)
    if np.any(counts != length):
        bad = np.flatnonzero(counts != length)
        raise XPBulkFormatError(f"{path}: {column} of source {source_ids[bad[0]]} has {counts[bad[0]]} values, "
                                f"not {length} ({len(bad)} such rows)")
    flat = pc.list_flatten(values)
    try:
        numbers = pc.cast(flat, pa.float64())
    except pa.ArrowInvalid:  # elements the archive left undefined ("null"), or text that is no number
        undefined = pc.is_in(flat, value_set=pa.array(["null", "NaN", "nan"]))
        try:
            numbers = pc.cast(pc.if_else(undefined, pa.scalar(None, pa.string()), flat), pa.float64())
        except pa.ArrowInvalid as error:
            raise XPBulkFormatError(f"{path}: {column}: {error}") from error
    return numbers.to_numpy(zero_copy_only=False).reshape(len(cells), length)
