"""One adapter per source of spectra, each returning a :class:`labeltransfer.data.stars.SourceStars`.

A task's ``source`` picks its adapter; the adapter reads the task's input files (the keys of
the ``prepare_sample`` rule's inputs are its keyword arguments) and returns one typed record.
Adding a source is one module here, one entry in ``ADAPTERS`` and its inputs in
``workflow/rules/common.smk``.
"""

from .gaia import stars_from_gaia_rvs, stars_from_gaia_xp
from .lamost import stars_from_lamost
from .xp_library import stars_from_xp_library

__all__ = ["ADAPTERS", "read_stars"]

#: The adapter of each source.
ADAPTERS = {"xp_library": stars_from_xp_library, "gaia_xp": stars_from_gaia_xp, "gaia_rvs": stars_from_gaia_rvs,
            "lamost": stars_from_lamost}

def read_stars(source, inputs, *, label_names, lamost):
    """The stars of a task: ``ADAPTERS[source]`` called with the task's ``inputs`` (name -> path).

    ``lamost`` is the config's ``archives: lamost`` section, which the LAMOST adapter reads
    (grid, continuum width); the other sources take no settings.
    """
    if source not in ADAPTERS:
        raise KeyError(f"unknown source {source!r}; sources are {', '.join(ADAPTERS)}")
    settings = {"settings": lamost} if source == "lamost" else {}
    return ADAPTERS[source](**inputs, label_names=label_names, **settings)
