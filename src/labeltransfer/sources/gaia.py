"""Adapters of the ``gaia_xp`` and ``gaia_rvs`` sources: allStar labels joined to Gaia DR3 spectra.

The spectra (DataLink replies, listed by the fetch rule's manifest) join the allStar stars on
Gaia source_id, exactly; parallaxes are the allStar's Gaia EDR3 ones.
"""

import logging

import numpy as np

from ..data.crossmatch import join_on_source_id
from ..io.gaia_rvs import read_rvs
from ..xp.continuous import read_xp_continuous
from .apogee import ALLSTAR_RELEASE, EmptyMatchError, allstar_stars, read_apogee_labels
from .files import file_provenance, manifest_provenance, read_manifest

__all__ = ["stars_from_gaia_xp", "stars_from_gaia_rvs", "join_gaia_spectra"]

log = logging.getLogger(__name__)


def stars_from_gaia_xp(*, labels, spectra, label_names):
    """The allStar stars (``labels``, CSV) with Gaia XP continuous spectra (``spectra``, a manifest)."""
    return _stars_from_gaia(labels, spectra, label_names, read_xp_continuous, "gaia_xp",
                            "Gaia DR3 XP continuous spectra (sampled by the XP basis, labeltransfer.xp.flux)")


def stars_from_gaia_rvs(*, labels, spectra, label_names):
    """The allStar stars (``labels``, CSV) with Gaia RVS spectra (``spectra``, a manifest)."""
    return _stars_from_gaia(labels, spectra, label_names, read_rvs, "gaia_rvs", "Gaia DR3 RVS spectra")


def _stars_from_gaia(labels_path, manifest_path, label_names, reader, source, spectra_release):
    provenance = {"source": source, "release": f"{ALLSTAR_RELEASE}; {spectra_release}",
                  "files": [file_provenance(labels_path), manifest_provenance(manifest_path)]}
    return join_gaia_spectra(read_apogee_labels(labels_path), reader(read_manifest(manifest_path)), label_names,
                             provenance)


def join_gaia_spectra(allstar, spectra, label_names, provenance):
    """Join Gaia XP or RVS spectra (keyed by source_id) to the allStar stars.

    Parameters
    ----------
    allstar : pandas.DataFrame
        From :func:`labeltransfer.io.allstar.read_allstar`.
    spectra : dict
        ``source_id``, ``flux``, ``flux_error``, ``wavelength`` (from ``read_xp_continuous``
        or ``read_rvs``).
    label_names : sequence of str
    provenance : dict
        Its ``source`` names the spectra in messages.

    Returns
    -------
    SourceStars

    Raises
    ------
    EmptyMatchError
        If no allStar star has a spectrum.
    """
    what = provenance["source"]
    index = join_on_source_id(allstar["source_id"].to_numpy(), spectra["source_id"], what=what)
    rows = np.flatnonzero(index >= 0)
    log.info("%s: %d of %d allStar stars have a spectrum (%d spectra)", what, rows.size, len(allstar),
             len(spectra["source_id"]))
    if rows.size == 0:
        raise EmptyMatchError(f"no allStar star has one of the {len(spectra['source_id'])} {what} spectra "
                              "(joined on Gaia source_id)")
    return allstar_stars(allstar, rows, flux=spectra["flux"][index[rows]], flux_error=spectra["flux_error"][index[rows]],
                         wavelength=spectra["wavelength"], label_names=label_names, provenance=provenance)
