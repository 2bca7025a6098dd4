"""Array checks of the readers (numpy): a ``.npz`` archive opened with an error that names the file,
and the pixels that hold no measurement."""

import zipfile

import numpy as np

__all__ = ["load_npz", "nonpositive_error"]


def load_npz(path, what, error):
    """``numpy.load`` of a ``.npz`` archive (no pickles), to be used as a context manager.

    Raises
    ------
    error
        The file is no ``.npz`` archive (empty, truncated, a ``.npy`` array, pickled or other
        data); the message names the file and ``what`` it should hold.
    """
    try:
        arrays = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as cause:
        raise error(f"{path}: not a .npz archive of {what} ({type(cause).__name__}: {cause})") from cause
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise error(f"{path}: not a .npz archive of {what} (a single {type(arrays).__name__})")
    return arrays


def nonpositive_error(flux, error):
    """Whether each spectrum has a pixel with a finite flux and an error that is not positive
    (``error <= 0``: no measurement, masked by the readers), shape (n,)."""
    return np.any(np.isfinite(flux) & (error <= 0), axis=1)
