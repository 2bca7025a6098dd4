"""Readers and fetchers of survey data."""

import gzip
import zipfile
from pathlib import Path

class FileFormatError(ValueError):
    """A survey file that cannot be used: unreadable, or without what the workflow needs.

    Each reader raises its own subclass; the message names the file and what is wrong."""


class SkippedRows:
    """The rows of survey files left out, by why, over every file read with it: ``damaged`` (a row
    that cannot be parsed) and ``no_spectrum`` (nothing to label: no XP band with finite values)."""

    def __init__(self):
        self.counts = {"damaged": 0, "no_spectrum": 0}

    def add(self, reason, n):
        """Count ``n`` more rows left out for ``reason``."""
        self.counts[reason] += int(n)


def require(available, required, where, error, what="column"):
    """Raise ``error`` naming every one of ``required`` that ``available`` lacks.

    ``where`` names the file (or file and table) for the message; ``what`` says what is
    missing ("column", "array", "keyword").
    """
    missing = [name for name in required if name not in available]
    if missing:
        raise error(f"{where}: missing required {what}(s) {', '.join(missing)}")


#: Names of the table files a zip archive (a DataLink reply) may hold.
TABLE_SUFFIXES = (".csv", ".ecsv", ".csv.gz", ".ecsv.gz")


def path_list(paths):
    """One path (str or Path) or several, as a list of paths."""
    if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
        return [paths]
    return list(paths)


def table_files(path, error=ValueError):
    """The table files in ``path``, one at a time, for ``pandas.read_csv``.

    ``path`` is a CSV or ECSV file (gzipped or not), or a zip archive of such files (what the
    Gaia DataLink service returns); a zip member is read from the archive without being
    written to disk.

    Yields
    ------
    name : str
        ``path``, or ``path:member`` for a member of a zip archive (for messages).
    source : Path or binary file
        What to give ``pandas.read_csv``; a member is closed when the next one is asked for.

    Raises
    ------
    error
        A zip archive that holds no table file (its members are named).
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        yield str(path), path
        return
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.namelist() if m.lower().endswith(TABLE_SUFFIXES)]
        if not members:
            raise error(f"{path}: the zip archive holds no CSV or ECSV file ({', '.join(archive.namelist())})")
        for member in members:
            with archive.open(member) as handle:
                yield f"{path}:{member}", gzip.GzipFile(fileobj=handle) if member.lower().endswith(".gz") else handle
