"""The Gaia DR3 bulk-download files (gzipped ECSV with array columns), read a block of rows at a time.

The archive's bulk folders (``https://cdn.gea.esac.esa.int/Gaia/gdr3/...``, each listed with its
MD5s in ``_MD5SUM.txt``) hold gzipped ECSV files: ``#`` header lines, the column names, then one
row per source, an array written ``"[v1,v2,...]"`` in one cell and a missing value as ``null``.
A DataLink CSV reply has the same rows with arrays written ``"(v1, v2, ...)"`` and empty cells.

Most of such a file is array text, and reading it is what a survey chunk job spends its time on,
so it is decompressed with ISA-L (``isal``, about four times zlib's speed), split into cells by
Arrow's CSV reader (no Python string per cell) and each array column parsed by Arrow's
string-to-float cast.

A damaged row (too few or too many cells, a source_id or an array element that is no number, an
empty or short array where the row has the spectrum) is left out, counted (:class:`SkippedRows`)
and the first one logged with what is wrong: the rest of the file is labelled. A file in which
more than half of the rows read so far are damaged (judged once ``block_rows`` rows have been
read, and at its end) is refused, naming it: that is a damaged file, not a damaged row.
"""

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from isal import igzip

from . import SkippedRows, FileFormatError, require, table_files

__all__ = ["MAX_DAMAGED_FRACTION", "SkippedRows", "bulk_tables", "read_bulk_blocks", "array_column",
           "unparsable_integers"]

log = logging.getLogger(__name__)

#: Elements of an array cell that the archive leaves undefined (read as NaN).
_UNDEFINED = ("null", "NaN", "nan", "")
#: A file with more damaged rows than this fraction of the rows read is refused, not read around.
MAX_DAMAGED_FRACTION = 0.5


class _Damage:
    """The damaged rows of one table: counted, the first one described in the log, and the table
    refused once most of its rows are damaged."""

    def __init__(self, name, block_rows, error):
        self.name, self.block_rows, self.error = name, block_rows, error
        self.damaged, self.kept, self.first = 0, 0, None

    def note(self, what):
        """Describe a damaged row (the first one is logged; the rest are only counted)."""
        if self.first is None:
            self.first = what
            log.warning("%s: a damaged row left out: %s (every damaged row is left out and counted)", self.name, what)

    def invalid_row(self, row):
        """Arrow's handler of a row with too few or too many cells: counted, then skipped."""
        self.note(f"a row of {row.actual_columns} cells, not {row.expected_columns}: {row.text[:60]!r}...")
        self.damaged += 1
        return "skip"

    def check(self, end=False):
        """Refuse the table when more than :data:`MAX_DAMAGED_FRACTION` of the rows read are damaged."""
        read = self.damaged + self.kept
        if self.damaged > MAX_DAMAGED_FRACTION * read and (end or read >= self.block_rows):
            raise self.error(f"{self.name}: {self.damaged} of the {read} rows read are damaged (the first: "
                             f"{self.first}): the file is damaged, not a row; download it again")


def _open(path):
    path = Path(path)
    return igzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _column_names(handle):
    """The column names, read past the ``#`` lines before them (the handle is left at the first row)."""
    line = handle.readline()
    while line.startswith(b"#"):
        line = handle.readline()
    return line.decode(errors="replace").strip().split(",")


def bulk_tables(path, error=FileFormatError):
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


def read_bulk_blocks(handle, names, name, columns, block_rows, convert, threads=1, error=FileFormatError,
                     skipped=None):
    """Yield a table's rows ``block_rows`` at a time (the last block shorter), as ``convert`` makes them.

    ``handle``, ``names`` and ``name`` are what :func:`bulk_tables` yields. The text is read and
    parsed a few MB at a time: ``convert(table, damage)`` gets an Arrow table of ``columns``
    (``source_id`` int64, the others strings, null where the cell is ``null`` or empty) and the
    table's damage record (for :func:`array_column`), and returns a dict of NumPy arrays, one row
    per row it keeps, with a boolean ``damaged`` array among them; the damaged rows are left out
    and the pieces of a block joined. So memory is bounded by the block's arrays, not by its text
    or by the file. ``threads`` > 1 lets Arrow split and convert the text on its thread pool. The
    damaged rows are added to ``skipped`` (:class:`SkippedRows`, if given).

    Raises
    ------
    error
        A missing column (the table and the column named), or more than
        :data:`MAX_DAMAGED_FRACTION` of the rows read damaged. Errors of reading (a truncated
        gzip) are left to the caller.
    """
    require(names, columns, name, error)
    damage = _Damage(name, block_rows, error)
    read_options = pa_csv.ReadOptions(column_names=names, block_size=_READ_BYTES, use_threads=threads > 1)
    parse_options = pa_csv.ParseOptions(invalid_row_handler=damage.invalid_row)
    convert_options = pa_csv.ConvertOptions(include_columns=list(columns), strings_can_be_null=True,
                                            column_types=dict.fromkeys(columns, pa.string()))
    pieces, n_rows = [], 0
    for batch in pa_csv.open_csv(handle, read_options=read_options, parse_options=parse_options,
                                 convert_options=convert_options):
        table, start = _with_source_ids(pa.Table.from_batches([batch]), damage), 0
        while start < table.num_rows:
            take = min(block_rows - n_rows, table.num_rows - start)
            pieces.append(_undamaged(convert(table.slice(start, take), damage), damage))
            n_rows, start = n_rows + take, start + take
            if n_rows == block_rows:
                yield _joined(pieces)
                pieces, n_rows = [], 0
        damage.check()
    if n_rows:
        yield _joined(pieces)
    damage.check(end=True)
    if damage.damaged:
        log.warning("%s: %d damaged rows left out of %d", name, damage.damaged, damage.damaged + damage.kept)
    if skipped is not None:
        skipped.add("damaged", damage.damaged)


def _with_source_ids(table, damage):
    """The table with ``source_id`` as int64, its rows without a source_id that is a number left out."""
    cells = table["source_id"].combine_chunks()
    bad = cells.is_null().to_numpy(zero_copy_only=False) | unparsable_integers(cells)
    if bad.any():
        damage.note(f"source_id {cells[int(np.argmax(bad))].as_py()!r} is no number")
        damage.damaged += int(bad.sum())
        table, cells = table.filter(pa.array(~bad)), cells.filter(pa.array(~bad))
    return table.set_column(table.column_names.index("source_id"), "source_id", pc.cast(cells, pa.int64()))


def _undamaged(arrays, damage):
    """The rows of ``convert``'s arrays that are not damaged (counted in ``damage``)."""
    damaged = arrays.pop("damaged")
    if damaged.any():
        damage.damaged += int(damaged.sum())
        arrays = {key: values[~damaged] for key, values in arrays.items()}
    damage.kept += len(damaged) - int(damaged.sum())
    return arrays


def _joined(pieces):
    return {key: np.concatenate([piece[key] for piece in pieces]) for key in pieces[0]}


def _failing_rows(cast, n):
    """The rows (bool, shape (n,)) for which ``cast(start, stop)`` of a range holding them raises
    ``ArrowInvalid``, found by halving the ranges that fail: a few casts where a row or two of a
    block are damaged."""
    failing = np.zeros(n, dtype=bool)
    pending = [(0, n)] if n else []
    while pending:
        start, stop = pending.pop()
        try:
            cast(start, stop)
        except pa.ArrowInvalid:
            if stop - start == 1:
                failing[start] = True
            else:
                middle = (start + stop) // 2
                pending += [(start, middle), (middle, stop)]
    return failing


def unparsable_integers(cells):
    """Where string cells (nulls allowed) are no whole number (bool, shape (n,)): one cast, and
    where it fails, the failing cells found by halving."""
    cells = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
    try:
        pc.cast(cells, pa.int64())
        return np.zeros(len(cells), dtype=bool)
    except pa.ArrowInvalid:
        return _failing_rows(lambda start, stop: pc.cast(cells.slice(start, stop - start), pa.int64()), len(cells))


def _numbers(flat):
    """Text elements as float64, the undefined ones (``null``, ``NaN``, empty) NaN; raises ``ArrowInvalid``
    on text that is no number."""
    try:
        return pc.cast(flat, pa.float64())
    except pa.ArrowInvalid:  # undefined elements, or text that is no number
        undefined = pc.is_in(pc.utf8_trim_whitespace(flat), value_set=pa.array(_UNDEFINED))
        return pc.cast(pc.if_else(undefined, pa.scalar(None, pa.string()), flat), pa.float64())


def array_column(cells, length, column, source_ids, damage):
    """Array cells ``"[v1,...]"`` (or ``"(v1, ...)"``) as a (n, length) float array, and the damaged rows.

    Undefined elements (``null``, ``NaN``, empty) are NaN. A row is damaged (True in the returned
    mask, its values NaN) where its cell is null, holds another number of values than ``length``
    or text that is no number; the first is described to ``damage`` (naming ``column`` and its
    source, one of ``source_ids``).

    Returns
    -------
    values : ndarray of float64, shape (n, length)
    damaged : ndarray of bool, shape (n,)
    """
    cells = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
    n = len(cells)
    damaged = cells.is_null().to_numpy(zero_copy_only=False)
    if damaged.any():
        damage.note(f"{column} of source {source_ids[int(np.argmax(damaged))]} is empty")
    if damaged.all():
        return np.full((n, length), np.nan), damaged
    separator = ", " if ", " in cells[int(np.argmin(damaged))].as_py() else ","
    values = pc.split_pattern(pc.utf8_slice_codeunits(cells, 1, -1), separator)
    counts = pc.fill_null(pc.list_value_length(values), length).to_numpy(zero_copy_only=False)
    if np.any(counts != length):
        first = int(np.argmax(counts != length))
        damage.note(f"{column} of source {source_ids[first]} has {counts[first]} values, not {length}")
        damaged = damaged | (counts != length)
    if damaged.any():
        values = values.filter(pa.array(~damaged))
    try:
        numbers = _numbers(pc.list_flatten(values))
    except pa.ArrowInvalid as cause:
        no_number = _failing_rows(lambda start, stop: _numbers(pc.list_flatten(values.slice(start, stop - start))),
                                  len(values))
        rows = np.flatnonzero(~damaged)
        damage.note(f"{column} of source {source_ids[rows[np.argmax(no_number)]]}: {cause}")
        damaged = damaged.copy()
        damaged[rows[no_number]] = True
        numbers = _numbers(pc.list_flatten(values.filter(pa.array(~no_number))))
    numbers = numbers.to_numpy(zero_copy_only=False).reshape(-1, length)
    if not damaged.any():
        return numbers, damaged
    everything = np.full((n, length), np.nan)
    everything[~damaged] = numbers
    return everything, damaged
