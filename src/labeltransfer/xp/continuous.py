"""Gaia DR3 XP continuous spectra (``xp_continuous_mean_spectrum``) -> sampled spectra.

The archive serves the BP and RP spectra as basis-function coefficients: CSV from DataLink
``XP_CONTINUOUS`` (arrays written ``(v1, v2, ...)``, a missing band as empty cells), and ECSV
in the bulk download (``XpContinuousMeanSpectrum_*.csv.gz``: ``#`` header lines, arrays
``[v1,v2,...]``, missing values ``null``); both are read here. ``gaiaxpy.calibrate`` turns
them into fluxes on the same 336-1020 nm, 2 nm grid as the default XP library
(``io.xp_library.XP_WAVELENGTH``), so models trained on either transfer. Each spectrum is then divided by its median flux, as in
the library. Sources without a BP (or RP) spectrum get NaN over the pixels that band alone
covers, which the sample's masked-pixel cut later counts; rows with neither band, and
repeated source_ids, are left out and counted here.
"""

import logging

import numpy as np
import pandas as pd

from ..io import FileFormatError, path_list, require, table_files
from .basis import N_COEFFICIENTS, coefficient_covariance
from .library import XP_WAVELENGTH

__all__ = ["XPFormatError", "XP_REQUIRED_COLUMNS", "read_xp_continuous", "read_xp_covariances", "array_cell"]

log = logging.getLogger(__name__)

XP_REQUIRED_COLUMNS = ("source_id", "bp_coefficients", "bp_coefficient_errors",
                       "bp_coefficient_correlations", "bp_n_parameters", "bp_standard_deviation",
                       "rp_coefficients", "rp_coefficient_errors", "rp_coefficient_correlations",
                       "rp_n_parameters", "rp_standard_deviation")

#: Columns that hold arrays (written in one CSV cell).
_ARRAY_COLUMNS = tuple(f"{band}_{name}" for band in ("bp", "rp")
                       for name in ("coefficients", "coefficient_errors", "coefficient_correlations"))


class XPFormatError(FileFormatError):
    """An XP continuous file that cannot be used (unreadable, missing columns, no spectra)."""


def read_xp_continuous(paths):
    """Sample the XP spectra of archive files on the library's pixel grid, one batch at a time.

    Parameters
    ----------
    paths : path or list of paths
        Each one batch: a CSV file as DataLink writes it (arrays in ``(...)``), an ECSV file
        of the bulk download (``#`` header lines, arrays in ``[...]``, missing values
        ``null``), gzipped or not, or a DataLink zip reply holding one such file for the batch
        (``RAW``) or one per source (``INDIVIDUAL``). A batch is read, sampled and reduced to
        float32 arrays before the next one is opened, so memory is bounded by the largest
        batch, not by the task.

    Returns
    -------
    dict
        ``source_id`` (int64), ``flux`` and ``flux_error`` (float32, (n, 343), divided by
        the median flux), ``wavelength`` (nm), ``missing_band`` (str: ``""``, ``"bp"``, ``"rp"``).

    Raises
    ------
    XPFormatError
        Unreadable file, missing columns (named), or no row with coefficients.
    """
    from gaiaxpy import calibrate  # heavy import, needed only here

    paths = path_list(paths)
    seen, batches, repeated_ids = set(), [], []
    for path in paths:
        table = _read_batch(path)
        repeated = table["source_id"].duplicated() | table["source_id"].isin(seen)
        repeated_ids.extend(table.loc[repeated, "source_id"].tolist())
        table = table[~repeated].reset_index(drop=True)
        if not table.empty:
            seen.update(table["source_id"].tolist())
            batches.append(_sample(table, calibrate))
    if repeated_ids:
        log.warning("%d rows repeat a source_id already read (e.g. %s); the first is kept", len(repeated_ids),
                    repeated_ids[0])
    if not batches:
        raise XPFormatError(f"no XP spectrum with coefficients in {', '.join(map(str, paths))}")
    return {"source_id": np.concatenate([b["source_id"] for b in batches]),
            "flux": np.concatenate([b["flux"] for b in batches]),
            "flux_error": np.concatenate([b["flux_error"] for b in batches]),
            "wavelength": XP_WAVELENGTH.copy(),
            "missing_band": np.concatenate([b["missing_band"] for b in batches])}


def read_xp_covariances(paths, source_ids):
    """The coefficient covariances of the sources ``source_ids`` in the XP files ``paths``.

    Returns
    -------
    ndarray, shape (n_sources, 110, 110)
        Block-diagonal (BP then RP, :func:`labeltransfer.xp.basis.coefficient_covariance`), in
        the order of ``source_ids``; zero blocks for a missing band.

    Raises
    ------
    XPFormatError
        A source that none of the files holds (the first few named).
    """
    wanted = pd.Index(np.asarray(source_ids, dtype=np.int64))
    covariances = np.zeros((len(wanted), 2 * N_COEFFICIENTS, 2 * N_COEFFICIENTS))
    found = np.zeros(len(wanted), dtype=bool)
    for path in path_list(paths):
        table = _read_batch(path)
        position = wanted.get_indexer(table["source_id"].to_numpy(np.int64))
        for row, i in zip(table[position >= 0].itertuples(index=False), position[position >= 0]):
            for k, band in enumerate(("bp", "rp")):
                coefficients = getattr(row, f"{band}_coefficients")
                if not isinstance(coefficients, str):  # a missing band
                    continue
                block = slice(k * N_COEFFICIENTS, (k + 1) * N_COEFFICIENTS)
                covariances[i, block, block] = coefficient_covariance(
                    array_cell(getattr(row, f"{band}_coefficient_errors")),
                    array_cell(getattr(row, f"{band}_coefficient_correlations")))
            found[i] = True
    if not found.all():
        raise XPFormatError(f"{(~found).sum()} sources are in none of {len(path_list(paths))} XP files "
                            f"(e.g. {wanted[~found][:3].tolist()})")
    return covariances


def array_cell(cell):
    """An array written in one cell, ``(v1, v2, ...)`` (or ``[...]``), as floats."""
    return np.array(cell.strip("()[]").split(","), dtype=float)


def _sample(table, calibrate):
    """One batch's spectra on the library grid, divided by their median flux."""
    sampled, sampling = calibrate(table, sampling=XP_WAVELENGTH, save_file=False)
    if not np.allclose(sampling, XP_WAVELENGTH):
        raise XPFormatError(f"gaiaxpy sampled on another grid ({sampling[0]}-{sampling[-1]} nm)")
    sampled = sampled.set_index("source_id").loc[table["source_id"]]
    flux = np.vstack(sampled["flux"].to_numpy()).astype(float)
    flux_error = np.vstack(sampled["flux_error"].to_numpy()).astype(float)
    median = np.nanmedian(flux, axis=1, keepdims=True)
    missing_band = np.where(table["bp_n_parameters"].isna(), "bp", np.where(table["rp_n_parameters"].isna(), "rp", ""))
    return {"source_id": table["source_id"].to_numpy(np.int64), "flux": (flux / median).astype(np.float32),
            "flux_error": (flux_error / median).astype(np.float32), "missing_band": missing_band}


def _parenthesised(frame):
    """``frame`` with the bulk files' ``[...]`` arrays written ``(...)``, as gaiaxpy parses text arrays."""
    for column in _ARRAY_COLUMNS:
        text = frame[column].astype(object)
        bracketed = text.map(lambda cell: isinstance(cell, str) and cell.startswith("["))
        if bracketed.any():
            frame[column] = text.where(~bracketed, "(" + text[bracketed].str.slice(1, -1) + ")")
    return frame


def _read_batch(path):
    """The rows of one batch (every table file of ``path``) that have at least one band."""
    frames = []
    for name, source in table_files(path, XPFormatError):
        try:
            frame = pd.read_csv(source, comment="#", usecols=lambda column: column in XP_REQUIRED_COLUMNS)
        except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
            raise XPFormatError(f"{name}: cannot read the XP continuous table ({error})") from error
        require(frame.columns, XP_REQUIRED_COLUMNS, name, XPFormatError)
        frames.append(_parenthesised(frame))
    table = pd.concat(frames, ignore_index=True)
    empty = table["bp_coefficients"].isna() & table["rp_coefficients"].isna()
    if empty.any():
        log.warning("%s: %d sources have neither BP nor RP coefficients and are left out (e.g. %s)",
                    path, empty.sum(), table.loc[empty, "source_id"].iloc[0])
    for band in ("bp", "rp"):
        n_missing = (table[f"{band}_coefficients"].isna() & ~empty).sum()
        if n_missing:
            log.info("%s: %d sources have no %s spectrum (their %s pixels are NaN)", path, n_missing,
                     band.upper(), band.upper())
    return table[~empty].reset_index(drop=True)
