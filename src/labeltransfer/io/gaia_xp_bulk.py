"""Gaia DR3 XP continuous spectra as the bulk-download area publishes them, read block by block.

``XpContinuousMeanSpectrum_*.csv.gz`` (https://cdn.gea.esac.esa.int/Gaia/gdr3/Spectroscopy/
xp_continuous_mean_spectrum/, listed with their MD5 in ``_MD5SUM.txt``): gzipped ECSV, ``#``
header lines, one row per source, arrays written ``"[v1,v2,...]"``, a missing band as ``null``
cells. A chunk holds up to a few hundred thousand sources of about 40 kB of text each, so it
is read ``block_rows`` rows at a time: memory is bounded by the block, not by the chunk. The
DataLink CSV layout (arrays in ``(...)``, empty cells) is read too, so that a user's own
DataLink reply can be labelled the same way.
"""

import logging

import numpy as np
import pandas as pd

from . import SurveyFormatError, require
from ..xp_basis import N_COEFFICIENTS

__all__ = ["XPBulkFormatError", "XPBlock", "read_xp_blocks"]

log = logging.getLogger(__name__)

_BANDS = ("bp", "rp")
_N_CORRELATIONS = N_COEFFICIENTS * (N_COEFFICIENTS - 1) // 2
_COLUMNS = ("source_id", *(f"{band}_{name}" for band in _BANDS
                           for name in ("coefficients", "coefficient_errors", "coefficient_correlations")))


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


def read_xp_blocks(path, block_rows=5_000):
    """Yield the sources of an XP continuous file ``block_rows`` at a time, as :class:`XPBlock`.

    Rows with neither band are left out, counted and logged with an example.

    Raises
    ------
    XPBulkFormatError
        A truncated or damaged file, a missing column (named), an array of the wrong length
        (its source named); the message names the file.
    """
    try:
        reader = pd.read_csv(path, comment="#", usecols=lambda column: column in _COLUMNS, chunksize=block_rows,
                             na_values=["null"], dtype={column: str for column in _COLUMNS[1:]})
        empty_rows = 0
        for frame in reader:
            require(frame.columns, _COLUMNS, str(path), XPBulkFormatError)
            empty = frame[[f"{band}_coefficients" for band in _BANDS]].isna().all(axis=1)
            if empty.any():
                if not empty_rows:
                    log.warning("%s: source %s has neither BP nor RP coefficients: left out (and every such row)",
                                path, frame.loc[empty, "source_id"].iloc[0])
                empty_rows += int(empty.sum())
            if (~empty).any():
                yield _block(frame[~empty] if empty.any() else frame, path)
            del frame  # the block's text, freed before the next is read
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise XPBulkFormatError(f"{path}: cannot read the XP continuous table, it is truncated or damaged "
                                f"({type(error).__name__}: {error})") from error
    if empty_rows:
        log.warning("%s: %d sources without BP and RP coefficients left out", path, empty_rows)


def _block(frame, path):
    n = len(frame)
    source_id = pd.to_numeric(frame["source_id"], errors="coerce")
    if source_id.isna().any():
        raise XPBulkFormatError(f"{path}: {int(source_id.isna().sum())} rows without a numeric source_id")
    source_id = source_id.to_numpy(np.int64)
    coefficients = np.full((n, 2, N_COEFFICIENTS), np.nan)
    errors = np.full_like(coefficients, np.nan)
    correlations = np.full((n, 2, _N_CORRELATIONS), np.nan)
    for b, band in enumerate(_BANDS):
        present = frame[f"{band}_coefficients"].notna().to_numpy()
        for name, target, length in (("coefficients", coefficients, N_COEFFICIENTS),
                                     ("coefficient_errors", errors, N_COEFFICIENTS),
                                     ("coefficient_correlations", correlations, _N_CORRELATIONS)):
            column = frame[f"{band}_{name}"].to_numpy()[present]
            target[present, b] = _arrays(column, length, f"{band}_{name}", source_id[present], path)
    return XPBlock(source_id, coefficients, errors, correlations)


def _arrays(cells, length, column, source_ids, path):
    """Array cells ``"[v1,...]"`` (or ``(...)``) of one column as a (n, length) float array."""
    if len(cells) == 0:
        return np.empty((0, length))
    text = ",".join(cell[1:-1] for cell in cells)  # without the brackets: one copy of the text
    with np.errstate(all="ignore"):
        values = np.array(text.replace("null", "nan").split(","), dtype=float) if "null" in text \
            else np.fromstring(text, sep=",")
    if values.size != len(cells) * length:
        counts = np.array([cell.count(",") + 1 for cell in cells])
        bad = np.flatnonzero(counts != length)
        raise XPBulkFormatError(f"{path}: {column} of source {source_ids[bad[0]]} has {counts[bad[0]]} values, "
                                f"not {length} ({len(bad)} such rows)")
    return values.reshape(len(cells), length)
