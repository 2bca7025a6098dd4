"""The APOGEE DR17 side of every source: labels, photometry and parallaxes of APOGEE stars.

The XP library and the allStar reader (:func:`labeltransfer.io.allstar.read_allstar`) name
their columns alike: ``apogee_id``, a label's value and ``<label>_err``, 2MASS ``j h k`` and
Gaia EDR3 ``gaiaedr3_phot_*_mean_mag``.
"""

import numpy as np
import pandas as pd

from ..data.spectra import Spectra
from ..data.stars import SourceStars

__all__ = ["PHOTOMETRY_COLUMNS", "ALLSTAR_RELEASE", "EmptyMatchError", "read_apogee_labels", "apogee_stars",
           "allstar_stars"]

#: The APOGEE column of each band of :data:`labeltransfer.data.stars.BANDS`, in that order.
PHOTOMETRY_COLUMNS = {"g": "gaiaedr3_phot_g_mean_mag", "bp": "gaiaedr3_phot_bp_mean_mag",
                      "rp": "gaiaedr3_phot_rp_mean_mag", "j": "j", "h": "h", "k": "k"}

#: The data releases every allStar source reads, before its spectra.
ALLSTAR_RELEASE = "APOGEE DR17 allStar labels, Gaia EDR3 parallaxes and photometry"


class EmptyMatchError(ValueError):
    """Two catalogues that share no star: nothing to train or test on."""


def read_apogee_labels(path):
    """The allStar stars of the ``read_apogee_labels`` rule (CSV), IDs as strings."""
    return pd.read_csv(path, dtype={"apogee_id": str, "telescope": str, "field": str})


def apogee_stars(table, rows, *, source_id, parallax, parallax_error, ra, dec, flux, flux_error, wavelength,
                 label_names, provenance):
    """The record of the APOGEE stars ``rows`` of ``table`` with the given spectra and astrometry.

    Parameters
    ----------
    table : dict or pandas.DataFrame
        APOGEE columns (the XP library, or the allStar labels); a label it lacks is an error
        naming the source.
    rows : ndarray of int
        The stars of ``table``, in the order of ``flux``.
    source_id, parallax, parallax_error, ra, dec : ndarray, shape (len(rows),)
    flux, flux_error : ndarray, shape (len(rows), n_pixels)
    wavelength : ndarray, shape (n_pixels,)
    label_names : sequence of str
    provenance : dict
        See :class:`labeltransfer.data.stars.SourceStars`.
    """
    missing = [name for name in label_names if name not in table or f"{name}_err" not in table]
    if missing:
        raise KeyError(f"{provenance['source']} has no label {', '.join(missing)} "
                       f"(files: {', '.join(entry['path'] for entry in provenance['files'])})")

    def column(name):
        return np.asarray(table[name], dtype=float)[rows]

    return SourceStars(
        apogee_id=np.asarray(table["apogee_id"]).astype(str)[rows],
        source_id=np.asarray(source_id, dtype=np.int64), label_names=tuple(label_names),
        labels=np.column_stack([column(name) for name in label_names]).reshape(len(rows), len(label_names)),
        label_err=np.column_stack([column(f"{name}_err") for name in label_names]).reshape(len(rows), len(label_names)),
        photometry={band: column(name) for band, name in PHOTOMETRY_COLUMNS.items()},
        parallax=np.asarray(parallax, dtype=float), parallax_error=np.asarray(parallax_error, dtype=float),
        ra=np.asarray(ra, dtype=float), dec=np.asarray(dec, dtype=float), extinction_k=column("ak_targ"),
        spectra=Spectra(flux, flux_error, np.asarray(wavelength, dtype=float), np.empty((len(rows), 0)), ()),
        provenance=provenance)


def allstar_stars(allstar, rows, *, flux, flux_error, wavelength, label_names, provenance):
    """``apogee_stars`` of allStar rows: their Gaia EDR3 source_ids and parallaxes, the spectra as float32."""
    return apogee_stars(allstar, rows, source_id=allstar["source_id"].to_numpy()[rows],
                        parallax=allstar["parallax"].to_numpy(dtype=float)[rows],
                        parallax_error=allstar["parallax_error"].to_numpy(dtype=float)[rows],
                        ra=allstar["ra"].to_numpy(dtype=float)[rows], dec=allstar["dec"].to_numpy(dtype=float)[rows],
                        flux=np.asarray(flux, dtype=np.float32), flux_error=np.asarray(flux_error, dtype=np.float32),
                        wavelength=wavelength, label_names=label_names, provenance=provenance)
