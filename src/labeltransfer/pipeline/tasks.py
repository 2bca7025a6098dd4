"""The two steps whose work depends on where a task's spectra come from, one entry each.

A task's ``source`` (``xp_library``, ``gaia_xp``, ``gaia_rvs``, ``lamost``) picks the
cross-match (the library with the parallax catalogue, or the allStar stars with the LAMOST
catalogue; the Gaia sources need none: they join on source_id) and the building of the
sample; every later step is the same for all sources.
"""

from .archives import crossmatch_lamost, prepare_archive_sample
from .data import crossmatch_parallax
from .data import prepare_sample as prepare_library_sample

__all__ = ["SOURCES_WITH_CROSSMATCH", "crossmatch", "prepare_sample"]

#: Sources whose tasks have a cross-match step.
SOURCES_WITH_CROSSMATCH = ("xp_library", "lamost")


def crossmatch(*, source, inputs, radius_arcsec, lamost, matches_path, stats_path, figure_path):
    """The cross-match of a task: ``inputs`` holds ``library`` and ``catalogue`` (xp_library)
    or ``labels``, ``catalogue`` and ``sources`` (lamost)."""
    outputs = {"matches_path": matches_path, "stats_path": stats_path, "figure_path": figure_path}
    if source == "xp_library":
        crossmatch_parallax(library_path=inputs["library"], catalogue_path=inputs["catalogue"],
                            radius_arcsec=radius_arcsec, **outputs)
    elif source == "lamost":
        crossmatch_lamost(labels_path=inputs["labels"], catalogue_path=inputs["catalogue"],
                          sources_path=inputs["sources"], settings=lamost, **outputs)
    else:
        raise ValueError(f"a {source} task has no cross-match (sources with one: {SOURCES_WITH_CROSSMATCH})")


def prepare_sample(*, source, inputs, lamost, settings, sample_path, split_path):
    """The sample and frozen split of a task: ``inputs`` holds ``library`` and ``matches``
    (xp_library), or ``labels``, ``spectra`` and, for lamost, ``matches``."""
    if source == "xp_library":
        prepare_library_sample(library_path=inputs["library"], matches_path=inputs["matches"], settings=settings,
                               sample_path=sample_path, split_path=split_path)
    else:
        prepare_archive_sample(source=source, labels_path=inputs["labels"], spectra_manifest=inputs["spectra"],
                               matches_path=inputs.get("matches"), lamost=lamost, settings=settings,
                               sample_path=sample_path, split_path=split_path)
