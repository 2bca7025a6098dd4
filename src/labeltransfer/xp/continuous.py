"""Gaia DR3 XP continuous spectra (``xp_continuous_mean_spectrum``) of the XP archive tasks -> sampled spectra.

The archive serves the BP and RP spectra as basis-function coefficients: CSV from DataLink
``XP_CONTINUOUS`` (arrays written ``(v1, v2, ...)``, a missing band as empty cells), and ECSV
in the bulk download (``XpContinuousMeanSpectrum_*.csv.gz``: ``#`` header lines, arrays
``[v1,v2,...]``, missing values ``null``); both are read by :func:`labeltransfer.xp.bulk.read_xp_blocks`
and sampled, as the survey's are, by :func:`labeltransfer.xp.flux.normalised_xp_flux`: on the default
XP library's 336-1020 nm, 2 nm grid (:data:`labeltransfer.xp.library.XP_WAVELENGTH`), so models
trained on either transfer, and divided by the median flux, as in the library. A source without a
usable BP (or RP) spectrum has that band's pixels masked, which the sample's masked-pixel cut later
counts; sources with neither band, and repeated source_ids, are left out and counted here.
"""

import logging

import numpy as np
import pandas as pd

from ..io import path_list
from .basis import N_COEFFICIENTS, XPSampler, coefficient_covariance
from .bulk import XPBulkFormatError, read_xp_blocks
from .flux import normalised_xp_flux
from .library import XP_WAVELENGTH

__all__ = ["read_xp_continuous", "read_xp_covariances"]

log = logging.getLogger(__name__)


def read_xp_continuous(paths, block_rows=2_000):
    """Sample the XP spectra of archive files on the library's pixel grid, ``block_rows`` sources at a time.

    Parameters
    ----------
    paths : path or list of paths
        Each a CSV file as DataLink writes it (arrays in ``(...)``), an ECSV file of the bulk
        download (``#`` header lines, arrays in ``[...]``, missing values ``null``), gzipped or
        not, or a DataLink zip reply holding one such file for the batch (``RAW``) or one per
        source (``INDIVIDUAL``).
    block_rows : int
        Sources read, sampled and reduced to float32 at a time: memory is bounded by the block
        (and the float32 spectra), not by the task's text.

    Returns
    -------
    dict
        ``source_id`` (int64), ``flux`` and ``flux_error`` (float32, (n, 343), divided by the
        median flux; a masked pixel has error ``inf`` and flux 0), ``wavelength`` (nm),
        ``missing_band`` (str: ``""``, ``"bp"``, ``"rp"``: the band missing or unusable).

    Raises
    ------
    XPBulkFormatError
        Unreadable file, missing columns (named), mostly damaged rows, or no source with a usable band.
    """
    paths = path_list(paths)
    sampler = XPSampler(XP_WAVELENGTH)
    seen, parts, repeated, n_unusable = set(), [], [], 0
    for path in paths:
        for block in read_xp_blocks(path, block_rows):
            ids = pd.Series(block.source_id)
            new = ~(ids.duplicated() | ids.isin(seen)).to_numpy()
            repeated.extend(block.source_id[~new].tolist())
            seen.update(block.source_id[new].tolist())
            flux, flux_error, usable = normalised_xp_flux(sampler, block.coefficients[new], block.errors[new],
                                                          block.correlations[new])
            kept = usable.any(axis=1)
            n_unusable += int(np.sum(~kept))
            parts.append({"source_id": block.source_id[new][kept], "flux": flux[kept], "flux_error": flux_error[kept],
                          "missing_band": np.where(~usable[kept, 0], "bp", np.where(~usable[kept, 1], "rp", ""))})
    if repeated:
        log.warning("%d rows repeat a source_id already read (e.g. %s); the first is kept", len(repeated), repeated[0])
    if n_unusable:
        log.warning("%d sources have no XP band with finite coefficients, errors and correlations: left out",
                    n_unusable)
    if not sum(len(part["source_id"]) for part in parts):
        raise XPBulkFormatError(f"no XP spectrum with a usable band in {', '.join(map(str, paths))}")
    spectra = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    for band in ("bp", "rp"):
        n_missing = int(np.sum(spectra["missing_band"] == band))
        if n_missing:
            log.info("%d sources have no usable %s spectrum (its pixels are masked)", n_missing, band.upper())
    return {**spectra, "wavelength": XP_WAVELENGTH.copy()}


def read_xp_covariances(paths, source_ids):
    """The coefficient covariances of the sources ``source_ids`` in the XP files ``paths``.

    Returns
    -------
    ndarray, shape (n_sources, 110, 110)
        Block-diagonal (BP then RP, :func:`labeltransfer.xp.basis.coefficient_covariance` of the
        archive's float32 errors and correlations), in the order of ``source_ids``; zero blocks for
        a missing band.

    Raises
    ------
    XPBulkFormatError
        A source that none of the files holds (the first few named).
    """
    wanted = pd.Index(np.asarray(source_ids, dtype=np.int64))
    covariances = np.zeros((len(wanted), 2 * N_COEFFICIENTS, 2 * N_COEFFICIENTS))
    found = np.zeros(len(wanted), dtype=bool)
    for path in path_list(paths):
        for block in read_xp_blocks(path):
            position = wanted.get_indexer(block.source_id)
            has_band = block.has_band()
            for row in np.flatnonzero(position >= 0):
                for b in np.flatnonzero(has_band[row]):
                    band = slice(b * N_COEFFICIENTS, (b + 1) * N_COEFFICIENTS)
                    covariances[position[row], band, band] = coefficient_covariance(block.errors[row, b],
                                                                                    block.correlations[row, b])
                found[position[row]] = True
    if not found.all():
        raise XPBulkFormatError(f"{(~found).sum()} sources are in none of {len(path_list(paths))} XP files "
                                f"(e.g. {wanted[~found][:3].tolist()})")
    return covariances
