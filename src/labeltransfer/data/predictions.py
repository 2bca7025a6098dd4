"""Tables of labelled stars, one row per star: the test split's predictions (with the reference labels)
and a survey's catalogue rows are both built by :func:`prediction_table`."""

import pandas as pd

__all__ = ["REFERENCE_BEYOND", "prediction_table", "sample_predictions"]

#: The test split's column that says whether a star's reference labels lie beyond the training set's
#: (1), within (0), or were not judged (empty: a reference label missing); see
#: :meth:`labeltransfer.diagnostics.ood.TrainingDomain.reference_beyond`.
REFERENCE_BEYOND = "reference_beyond_training"


def prediction_table(id_column, ids, snr, label_names, labels, sigma, *, reference=None, leading=None, flags=None,
                     reference_beyond=None, dtype=None):
    """A table of labelled stars.

    Its columns, in this order: ``leading``'s, ``id_column``, ``snr``, then for each label
    ``<label>`` and ``<label>_err`` (with ``reference``, followed by ``<label>_ref`` and
    ``<label>_ref_err``), and last ``flags`` and :data:`REFERENCE_BEYOND` where given.

    Parameters
    ----------
    id_column : str
        Name of the stars' identifier column: ``"apogee_id"`` (the test split) or ``"source_id"``
        (a survey).
    ids : ndarray, shape (n_stars,)
    snr : ndarray, shape (n_stars,)
        Each spectrum's signal-to-noise ratio.
    label_names : sequence of str, length n_labels
    labels, sigma : ndarray, shape (n_stars, n_labels)
        The predicted labels and their 1-sigma uncertainties.
    reference : tuple of two ndarray, each shape (n_stars, n_labels), optional
        The reference labels and their errors.
    leading : dict, optional
        Columns before the identifier (name -> one value for every star, or one per star), such
        as the S/N ladder's ``level``.
    flags : ndarray of int, shape (n_stars,), optional
        The out-of-distribution flags, as they are stored.
    reference_beyond : ndarray of float, shape (n_stars,), optional
        Whether each star's reference labels lie beyond the training set's: 1, 0, or NaN (not judged).
    dtype : numpy dtype, optional
        The type ``snr``, the labels and their sigmas are stored as (a catalogue's: float32);
        by default their own.

    Returns
    -------
    pandas.DataFrame
    """
    def stored(values):
        return values if dtype is None else values.astype(dtype)

    columns = {**(leading or {}), id_column: ids, "snr": stored(snr)}
    for k, name in enumerate(label_names):
        columns[name], columns[f"{name}_err"] = stored(labels[:, k]), stored(sigma[:, k])
        if reference is not None:
            columns[f"{name}_ref"], columns[f"{name}_ref_err"] = reference[0][:, k], reference[1][:, k]
    if flags is not None:
        columns["flags"] = flags
    if reference_beyond is not None:
        columns[REFERENCE_BEYOND] = reference_beyond
    return pd.DataFrame(columns)


def sample_predictions(stars, labels, sigma, *, leading=None, flags=None, reference_beyond=None):
    """The prediction table (:func:`prediction_table`) of labelled stars (a
    :class:`~labeltransfer.data.sample.LabelledSample`): their ``apogee_id`` and measured ``snr``,
    each label predicted with its sigma, and its reference value with the reference's error."""
    return prediction_table("apogee_id", stars.apogee_id, stars.snr, stars.label_names, labels, sigma,
                            reference=(stars.labels, stars.label_err), leading=leading, flags=flags,
                            reference_beyond=reference_beyond)
