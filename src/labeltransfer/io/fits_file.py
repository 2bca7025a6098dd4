"""Opening survey FITS files so that a truncated or corrupt file is one clear error."""

import warnings
import zlib
from contextlib import contextmanager

from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["open_fits"]

#: What astropy raises or warns when a file is cut short or damaged (zlib: a corrupt gzip stream).
_DAMAGE = (OSError, EOFError, zlib.error, AstropyUserWarning, VerifyWarning)


@contextmanager
def open_fits(path, error_class, memmap=False):
    """``fits.open`` whose failures (and astropy's truncation warnings) raise ``error_class``.

    The message names the file and tells the user to delete it and download it again.
    Errors raised while the body reads the HDUs' data are converted the same way.
    """
    with warnings.catch_warnings():
        for category in (AstropyUserWarning, VerifyWarning):
            warnings.simplefilter("error", category)
        try:
            hdul = fits.open(path, memmap=memmap)
            hdul.readall()
        except (*_DAMAGE, ValueError, TypeError, IndexError) as error:
            raise _damaged(path, error, error_class) from error
        with hdul:
            try:
                yield hdul
            except _DAMAGE as error:
                raise _damaged(path, error, error_class) from error


def _damaged(path, error, error_class):
    return error_class(f"{path}: cannot read the FITS file ({error}); it is truncated or corrupt: "
                       "delete it and rerun the download")
