"""The Gaia DR3 bulk-download files (gzipped ECSV with array columns), read a block of rows at a time.

The archive's bulk folders (``https://cdn.gea.esac.esa.int/Gaia/gdr3/...``, each listed with its
MD5s in ``_MD5SUM.txt``) hold gzipped ECSV files: ``#`` header lines, the column names, then one
row per source, an array written ``"[v1,v2,...]"`` in one cell and a missing value as ``null``.
A DataLink CSV reply has the same rows with arrays written ``"(v1, v2, ...)"`` and empty cells.

Most of such a file is array text, and reading it is what a survey chunk job spends its time on,
so it is decompressed with ISA-L (``isal``, about four times zlib's speed), split into cells by
Arrow's CSV reader (no Python string per cell) and each array column parsed by Arrow's
string-to-float cast.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from isal import igzip

from . import SurveyFormatError, require, table_files

__all__ = ["bulk_tables", "read_bulk_blocks", "array_column"]

#: Elements of an array cell that the archive leaves undefined (read as NaN).
_UNDEFINED = ("null", "NaN", "nan", "")


def _open(path):
    path = Path(path)
    return igzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _column_names(handle):
    """The column names, read past the ``#`` lines before them (the handle is left at the first row)."""
    line = handle.readline()
    while line.startswith(b"#"):
        line = handle.readline()
    return line.decode(errors="replace").strip().split(",")


def bulk_tables(path, error=SurveyFormatError):
    """Yield ``(name, handle, columns)`` for each table of ``path``, its handle at the first row.

    ``path`` is a bulk file or a CSV (gzipped or not), or a zip archive of such files (a DataLink
    reply: each member in turn, read from the archive); ``name`` is ``path`` or
    ``path:member``, for messages. A zip archive without a table raises ``error``.
    """
    for name, source in table_files(path, error):
        if isinstance(source, Path):
            with _open(source) as handle:
                yield name, handle, _column_names(handle)
        else:
            yield name, source, _column_names(source)


#: Text handed to Arrow at a time (bytes), about a hundred XP sources (a row must fit: an XP row is
#: about 40 kB, an RVS row 50 kB): its copies and the parse temporaries stay a few times this,
#: whatever the block of rows the caller asks for (reads of 32 MB peaked at 1.6 GB, of 4 MB at
#: 0.5 GB, and were no faster).
_READ_BYTES = 4 << 20


def read_bulk_blocks(handle, names, name, columns, block_rows, convert, threads=1, error=SurveyFormatError):
    """Yield a table's rows ``block_rows`` at a time (the last block shorter), as ``convert`` makes them.

    ``handle``, ``names`` and ``name`` are what :func:`bulk_tables` yields. The text is read and
    parsed a few MB at a time: ``convert`` gets an Arrow table of ``columns`` (``source_id``
    int64, the others strings, null where the cell is ``null`` or empty) and returns a dict of
    NumPy arrays, one row per row it keeps; the pieces of a block are joined. So memory is bounded
    by the block's arrays, not by its text or by the file. ``threads`` > 1 lets Arrow split and
    convert the text on its thread pool. A missing column raises ``error`` naming the table and
    the column; errors of reading (a truncated gzip, a damaged row) are left to the caller.
    """
    require(names, columns, name, error)
    read_options = pa_csv.ReadOptions(column_names=names, block_size=_READ_BYTES, use_threads=threads > 1)
    convert_options = pa_csv.ConvertOptions(
        include_columns=list(columns), strings_can_be_null=True,
        column_types={column: pa.int64() if column == "source_id" else pa.string() for column in columns})
    pieces, n_rows = [], 0
    for batch in pa_csv.open_csv(handle, read_options=read_options, convert_options=convert_options):
        table, start = pa.Table.from_batches([batch]), 0
        while start < table.num_rows:
            take = min(block_rows - n_rows, table.num_rows - start)
            pieces.append(convert(table.slice(start, take)))
            n_rows, start = n_rows + take, start + take
            if n_rows == block_rows:
                yield _joined(pieces)
                pieces, n_rows = [], 0
    if n_rows:
        yield _joined(pieces)


def _joined(pieces):
    return {key: np.concatenate([piece[key] for piece in pieces]) for key in pieces[0]}


def array_column(cells, length, column, source_ids, path, error=SurveyFormatError):
    """Array cells ``"[v1,...]"`` (or ``"(v1, ...)"``), none of them null, as a (n, length) float array.

    Undefined elements (``null``, ``NaN``, empty) are NaN.

    Raises
    ------
    error
        A null cell, an array of another length (its source named), or text that is no number;
        the message names the file and the column.
    """
    cells = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
    if cells.null_count:
        first = int(np.argmax(cells.is_null().to_numpy(zero_copy_only=False)))
        raise error(f"{path}: {column} of source {source_ids[first]} is empty")
    if len(cells) == 0:
        return np.empty((0, length))
    separator = ", " if ", " in cells[0].as_py() else ","
    values = pc.split_pattern(pc.utf8_slice_codeunits(cells, 1, -1), separator)
    counts = pc.list_value_length(values).to_numpy(zero_copy_only=False)
    if np.any(counts != length):
        bad = np.flatnonzero(counts != length)
        raise error(f"{path}: {column} of source {source_ids[bad[0]]} has {counts[bad[0]]} values, "
                    f"not {length} ({len(bad)} such rows)")
    flat = pc.list_flatten(values)
    try:
        numbers = pc.cast(flat, pa.float64())
    except pa.ArrowInvalid:  # undefined elements, or text that is no number
        undefined = pc.is_in(pc.utf8_trim_whitespace(flat), value_set=pa.array(_UNDEFINED))
        try:
            numbers = pc.cast(pc.if_else(undefined, pa.scalar(None, pa.string()), flat), pa.float64())
        except pa.ArrowInvalid as cause:
            raise error(f"{path}: {column}: {cause}") from cause
    return numbers.to_numpy(zero_copy_only=False).reshape(len(cells), length)
