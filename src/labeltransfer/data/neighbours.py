"""Nearest neighbours by Euclidean distance, computed in chunks of query points (bounded memory)."""

import numpy as np

__all__ = ["nearest"]

#: Query points whose distances are computed at once: the distance matrix and its temporaries stay
#: in the processor's cache (32 x 26,655 float32: 3.4 MB), which makes the search a third faster
#: than 2,048 at a time (218 MB each) and bounds its memory.
CHUNK = 32


def nearest(reference, query, k):
    """Indices and distances of each query point's ``k`` nearest reference points (in no order).

    Parameters
    ----------
    reference : ndarray, shape (n_reference, n_dimensions)
    query : ndarray, shape (n_query, n_dimensions)
    k : int
        At most ``n_reference``.

    Returns
    -------
    indices : ndarray of int, shape (n_query, k)
    distances : ndarray, shape (n_query, k)
    """
    norm = np.sum(reference ** 2, axis=1)
    indices = np.empty((len(query), k), dtype=np.int64)
    distances = np.empty((len(query), k), dtype=np.result_type(reference, query))
    for lo in range(0, len(query), CHUNK):
        block = query[lo:lo + CHUNK]
        distance2 = np.sum(block ** 2, axis=1)[:, None] + norm - 2 * block @ reference.T
        found = np.argpartition(distance2, k - 1, axis=1)[:, :k]
        indices[lo:lo + CHUNK] = found
        distances[lo:lo + CHUNK] = np.sqrt(np.clip(np.take_along_axis(distance2, found, axis=1), 0, None))
    return indices, distances
