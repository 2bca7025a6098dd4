"""Reader of astroNN's ``gaiadr2_apogeedr14_parallax.npz``: APOGEE DR14 positions with Gaia DR2
parallaxes (Leung & Bovy 2019). Arrays ``RA``, ``DEC`` (deg), ``parallax``,
``parallax_error`` (mas) and ``g`` (mag); -9999 marks a star without a Gaia DR2 parallax.
"""

import zipfile

import numpy as np

from . import FileFormatError, require

__all__ = ["read_parallax_catalogue", "CatalogueFormatError"]

_SENTINEL = -9999.0
_REQUIRED = ("RA", "DEC", "parallax", "parallax_error", "g")


class CatalogueFormatError(FileFormatError):
    """The catalogue file is unreadable or lacks a required array."""


def read_parallax_catalogue(path):
    """Read the catalogue; sentinel values become NaN.

    Returns
    -------
    dict
        ``ra``, ``dec`` (deg), ``parallax``, ``parallax_error`` (mas), ``g`` (mag), float arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            require(archive.files, _REQUIRED, path, CatalogueFormatError, what="array")
            arrays = {key: np.asarray(archive[key], dtype=float) for key in _REQUIRED}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, CatalogueFormatError):
            raise
        raise CatalogueFormatError(f"{path}: cannot read ({error}); delete it and rerun the download") from error
    for key in ("parallax", "parallax_error", "g"):
        arrays[key][arrays[key] == _SENTINEL] = np.nan
    return {"ra": arrays["RA"], "dec": arrays["DEC"], "parallax": arrays["parallax"],
            "parallax_error": arrays["parallax_error"], "g": arrays["g"]}
