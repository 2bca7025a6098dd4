"""Readers of APOGEE DR17 per-star spectra: apStar (combined, rest frame) and aspcapStar.

Both are on the APOGEE log-linear vacuum grid given in the header (``CRVAL1`` = log10 of the
first wavelength in Angstrom, ``CDELT1`` the step, 8575 pixels in DR17).

- apStar: HDUs 1, 2, 3 hold flux, error and the pixel bitmask (``APOGEE_PIXMASK``), one row
  per combination and visit; row 0 is the combined spectrum, already in the star's rest frame.
- aspcapStar: HDUs 1 and 2 hold the continuum-normalised flux and its error (1-D).

Masked pixels (a bad bit set, zero flux, or a non-finite or huge error) get zero inverse
variance.
"""

from dataclasses import dataclass

import numpy as np

from . import SurveyFormatError
from .fits_file import open_fits

__all__ = ["ApogeeFormatError", "ApogeeSpectrum", "BAD_PIXEL_BITS", "SAS_DR17", "spectrum_url", "read_apstar",
           "read_aspcapstar"]

#: The SDSS DR17 science archive.
SAS_DR17 = "https://data.sdss.org/sas/dr17/apogee/spectro"

#: APOGEE_PIXMASK bits that make a pixel unusable: BADPIX, CRPIX, SATPIX, UNFIXABLE, BADDARK,
#: BADFLAT, BADERR, NOSKY and SIG_SKYLINE (the set astroNN and The Cannon's APOGEE runs use).
BAD_PIXEL_BITS = (0, 1, 2, 3, 4, 5, 6, 7, 12)
#: Errors at or above this are APOGEE's marker of a pixel with no information.
HUGE_ERROR = 1e9


class ApogeeFormatError(SurveyFormatError):
    """The file is not a readable apStar / aspcapStar spectrum."""


@dataclass
class ApogeeSpectrum:
    """One APOGEE spectrum on its log-linear vacuum grid.

    Attributes
    ----------
    apogee_id : str
    wavelength : ndarray
        Vacuum, Angstrom, rest frame.
    flux, ivar : ndarray
        ``ivar`` is 0 on masked pixels.
    snr : float
        ``SNR`` of the header (NaN if absent).
    kind : str
        ``"apStar"`` or ``"aspcapStar"``.
    """

    apogee_id: str
    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    snr: float
    kind: str


def spectrum_url(kind, telescope, field, apogee_id, base=SAS_DR17):
    """Address of a star's DR17 apStar or aspcapStar file (from the allStar TELESCOPE, FIELD, APOGEE_ID).

    The combined spectra of the southern telescope (``lco25m``) are named ``asStar-dr17-...``,
    those of the northern ones ``apStar-dr17-...`` (as astroNN's SDSS downloader has them).

    Parameters
    ----------
    kind : {"apStar", "aspcapStar"}
    telescope, field, apogee_id : str
    base : str
        The archive's ``apogee/spectro`` folder.
    """
    folders = {"apStar": "redux/dr17/stars", "aspcapStar": "aspcap/dr17/synspec_rev1"}
    if kind not in folders:
        raise ValueError(f"kind must be one of {sorted(folders)}, got {kind!r}")
    telescope = telescope.strip()
    prefix = "asStar" if kind == "apStar" and telescope == "lco25m" else kind  # the du Pont telescope's files
    return f"{base}/{folders[kind]}/{telescope}/{field.strip()}/{prefix}-dr17-{apogee_id.strip()}.fits"


def read_apstar(path, bad_pixel_bits=BAD_PIXEL_BITS):
    """The combined (row 0) apStar spectrum, with the configured bad pixels masked."""
    with open_fits(path, ApogeeFormatError) as hdul:
        _need_hdus(hdul, 4, path, "apStar")
        flux, error, mask = (np.atleast_2d(np.asarray(hdul[k].data, dtype=float))[0] for k in (1, 2, 3))
        bad = (mask.astype(np.int64) & sum(1 << b for b in bad_pixel_bits)) > 0
        return _spectrum(hdul, path, flux, error, bad, "apStar")


def read_aspcapstar(path):
    """The continuum-normalised aspcapStar spectrum."""
    with open_fits(path, ApogeeFormatError) as hdul:
        _need_hdus(hdul, 3, path, "aspcapStar")
        flux, error = (np.asarray(hdul[k].data, dtype=float).ravel() for k in (1, 2))
        return _spectrum(hdul, path, flux, error, np.zeros(flux.size, dtype=bool), "aspcapStar")


def _need_hdus(hdul, n, path, kind):
    if len(hdul) < n or any(hdul[k].data is None for k in range(1, n)):
        raise ApogeeFormatError(f"{path}: an {kind} file has image data in HDUs 1-{n - 1}; found "
                                f"{len(hdul)} HDUs ({', '.join(type(h).__name__ for h in hdul)})")


def _spectrum(hdul, path, flux, error, bad, kind):
    header = hdul[1].header if "CRVAL1" in hdul[1].header else hdul[0].header
    if "CRVAL1" not in header or "CDELT1" not in header:
        raise ApogeeFormatError(f"{path}: no CRVAL1/CDELT1 wavelength keywords in HDU 1 or 0")
    wavelength = 10 ** (header["CRVAL1"] + header["CDELT1"] * np.arange(flux.size))
    bad = bad | ~np.isfinite(flux) | (flux == 0) | ~np.isfinite(error) | (error <= 0) | (error >= HUGE_ERROR)
    ivar = np.where(bad, 0.0, 1.0 / np.where(bad, 1.0, error) ** 2)
    primary = hdul[0].header
    apogee_id = str(primary.get("OBJID", primary.get("APOGEE_ID", ""))).strip()
    return ApogeeSpectrum(apogee_id, wavelength, np.where(bad, 0.0, flux), ivar,
                          float(primary.get("SNR", np.nan)), kind)
