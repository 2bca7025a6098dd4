"""Reader of LAMOST low-resolution spectra (one FITS file per ``obsid``).

Two layouts are in use:

- DR8 and later (``DATA_V = 'LAMOST DR10'`` ...): a primary header with the observation's
  metadata and a one-row binary table ``COADD`` with ``FLUX``, ``IVAR``, ``WAVELENGTH``,
  ``ANDMASK``, ``ORMASK`` (and ``NORMALIZATION``) arrays;
- earlier releases: the primary HDU is a (5, n_pixels) image whose rows are flux, inverse
  variance, wavelength, and-mask and or-mask.

Wavelengths are vacuum, in Angstrom, on a log-linear grid (the ``VACUUM`` keyword says so;
a file that says otherwise is refused). Pixels with a non-zero and-mask, or a non-positive
or non-finite inverse variance, get zero inverse variance. LAMOST writes -9999 for a missing
value: a redshift ``Z`` or an S/N of -9999 is read as NaN.
"""

from dataclasses import dataclass

import numpy as np

from . import FileFormatError, require
from .fits_file import open_fits

__all__ = ["LamostFormatError", "LamostSpectrum", "read_lamost_spectrum", "SNR_BANDS", "MISSING_VALUE"]

SNR_BANDS = ("u", "g", "r", "i", "z")
#: LAMOST's marker of a missing value is -9999: values at or below this are missing.
MISSING_VALUE = -9990.0
_IMAGE_ROWS = ("flux", "ivar", "wavelength", "andmask", "ormask")


class LamostFormatError(FileFormatError):
    """The file is not a readable LAMOST low-resolution spectrum."""


@dataclass
class LamostSpectrum:
    """One LAMOST spectrum and the header values a study uses.

    Attributes
    ----------
    obsid : int
    ra, dec : float
        Degrees (J2000).
    snr : dict
        S/N per SDSS band (``u g r i z``), from the header keywords ``SNRU`` ... ``SNRZ``
        (NaN where -9999).
    redshift : float
        ``Z`` of the LAMOST pipeline (radial velocity / c); NaN where absent or -9999.
    wavelength : ndarray
        Vacuum wavelength, Angstrom.
    flux, ivar : ndarray
        Flux and inverse variance; ``ivar`` is 0 on masked pixels.
    layout : str
        ``"COADD table"`` or ``"primary image"``.
    """

    obsid: int
    ra: float
    dec: float
    snr: dict
    redshift: float
    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    layout: str


def read_lamost_spectrum(path):
    """Read one LAMOST low-resolution spectrum, in either layout.

    Raises
    ------
    LamostFormatError
        Truncated or non-FITS file, an unknown layout (what was found is named), missing
        header keywords, or air wavelengths.
    """
    with open_fits(path, LamostFormatError) as hdul:
        header = hdul[0].header
        if "COADD" in hdul:
            arrays, layout = _coadd_table(hdul["COADD"], path), "COADD table"
        elif hdul[0].data is not None and hdul[0].data.ndim == 2 and hdul[0].data.shape[0] >= 3:
            arrays, layout = dict(zip(_IMAGE_ROWS, np.asarray(hdul[0].data, dtype=float))), "primary image"
        else:
            found = ", ".join(f"{h.name} {type(h).__name__} {getattr(h.data, 'shape', None)}" for h in hdul)
            raise LamostFormatError(f"{path}: unknown LAMOST layout (no COADD table and no (5, n) "
                                    f"primary image; found {found})")
        meta = _metadata(header, path)
    flux, ivar, wavelength = arrays["flux"], arrays["ivar"], arrays["wavelength"]
    andmask = arrays.get("andmask", np.zeros_like(flux))
    good = np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0) & (andmask == 0)
    return LamostSpectrum(**meta, wavelength=wavelength, flux=np.where(good, flux, 0.0),
                          ivar=np.where(good, ivar, 0.0), layout=layout)


def _coadd_table(hdu, path):
    names = set(hdu.columns.names)
    require(names, ("FLUX", "IVAR", "WAVELENGTH"), f"{path}: COADD table", LamostFormatError)
    return {c.lower(): np.asarray(hdu.data[c][0], dtype=float) for c in names & {"FLUX", "IVAR", "WAVELENGTH", "ANDMASK"}}


def _metadata(header, path):
    require(header, ("OBSID", "RA", "DEC", *(f"SNR{b.upper()}" for b in SNR_BANDS)), f"{path}: header",
            LamostFormatError, what="keyword")
    if header.get("VACUUM", True) is False:
        raise LamostFormatError(f"{path}: air wavelengths (VACUUM = F); the reader expects vacuum")
    return {"obsid": int(header["OBSID"]), "ra": float(header["RA"]), "dec": float(header["DEC"]),
            "snr": {b: _value(header[f"SNR{b.upper()}"]) for b in SNR_BANDS},
            "redshift": _value(header.get("Z", np.nan))}


def _value(number):
    """A header number, NaN where LAMOST marks it missing (-9999)."""
    number = float(number)
    return number if number > MISSING_VALUE else np.nan
