"""Readers and fetchers of survey data."""


def path_list(paths):
    """One path (str or Path) or several, as a list of paths."""
    if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
        return [paths]
    return list(paths)
