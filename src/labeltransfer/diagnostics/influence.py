"""Where in the spectrum each method reads each label from.

A method's flux influence (``LabelTransferMethod.flux_influence``) says, per star, pixel and
label, how far the pixel's flux moves the label: for The Cannon, the Payne and the networks the derivative
of the label with respect to the flux times the flux error, for XGBoost the pixel's SHAP
contribution. Its absolute value, as a share of the star's total over the pixels, is averaged
(median) over giants and over dwarfs and renormalised to sum to one: a curve against wavelength,
comparable between methods whatever the kind.

The summary sets each curve against two references by their overlap (the sum over pixels of
the smaller of two shares: 1 for the same curve, 0 for curves with no pixel in common):
- where the spectrum model of the information bound (``information.method``, the Payne's emulator by
  default) puts the information about the label (``information_bound``'s pixel table): a method whose [alpha/M] curve overlaps the [alpha/M] information reads the
  wavelengths that carry it;
- the method's own [Fe/H] curve: a method that infers [alpha/M] from its correlation with
  [Fe/H] reads [alpha/M] where it reads [Fe/H], more than the information itself does (the
  ``information`` rows give that overlap of the model's information curves).
"""

import numpy as np
import pandas as pd

from ..evaluation.metrics import GIANT_LOGG

__all__ = ["SUBSETS", "REFERENCE_LABEL", "giant_dwarf_masks", "pixel_shares", "influence_summary"]

#: The star subsets of the curves (``all`` where the labels have no logg).
SUBSETS = ("giants", "dwarfs", "all")
#: The label whose curve each other label's is compared with.
REFERENCE_LABEL = "fe_h"


def giant_dwarf_masks(labels, label_names):
    """Giants and dwarfs by reference logg (``GIANT_LOGG``); ``all`` stars where there is no logg."""
    if "logg" not in label_names:
        return {"all": np.ones(len(labels), bool)}
    logg = labels[:, list(label_names).index("logg")]
    return {"giants": logg < GIANT_LOGG, "dwarfs": logg >= GIANT_LOGG}


def pixel_shares(influence, wavelength, masks, label_names):
    """Each pixel's median share of the absolute influence per subset and label, renormalised.

    Parameters
    ----------
    influence : ndarray, shape (n_stars, n_pixels, n_labels)
        NaN for a star without one (a failed fit).
    wavelength : ndarray, shape (n_pixels,)
    masks : dict of str to boolean ndarray (n_stars,)
    label_names : sequence of str

    Returns
    -------
    pandas.DataFrame
        ``wavelength`` and one ``<subset>_<label>`` column per subset with stars and label.
    """
    magnitude = np.abs(influence)
    total = magnitude.sum(axis=1, keepdims=True)
    share = np.divide(magnitude, total, out=np.full_like(magnitude, np.nan), where=total > 0)
    table = pd.DataFrame({"wavelength": wavelength})
    for subset, mask in masks.items():
        rows = mask & np.all(np.isfinite(share), axis=(1, 2))
        if not rows.any():
            continue
        median = np.median(share[rows], axis=0)
        for k, label in enumerate(label_names):
            table[f"{subset}_{label}"] = median[:, k] / median[:, k].sum()
    return table


def _overlap(p, q):
    """The sum over pixels of the smaller share of two curves, each renormalised to sum to one."""
    return float(np.sum(np.minimum(p / np.sum(p), q / np.sum(q))))


def influence_summary(curves, kinds, information, labels):
    """One row per method (and the information), subset and label: the curve's peak wavelength
    and its overlaps with the information curve and with the same source's [Fe/H] curve.

    Parameters
    ----------
    curves : dict of str to pandas.DataFrame
        Each method's ``pixel_shares`` table.
    kinds : dict of str to str
        Each method's ``influence_kind``.
    information : pandas.DataFrame
        The information per pixel (``wavelength``, ``<subset>_<label>``), the bound's spectrum model's.
    labels : sequence of str
    """
    sources = {"information": ("spectrum-model information", information), **{
        method: (kinds[method], table) for method, table in curves.items()}}
    rows = []
    for source, (kind, table) in sources.items():
        for subset in SUBSETS:
            for label in labels:
                column = f"{subset}_{label}"
                if column not in table or column not in information:
                    continue
                share = table[column].to_numpy()
                reference = table.get(f"{subset}_{REFERENCE_LABEL}")
                rows.append({"method": source, "kind": kind, "subset": subset, "label": label,
                             "peak_wavelength": float(table["wavelength"].iloc[int(np.argmax(share))]),
                             "overlap_information": _overlap(share, information[column].to_numpy()),
                             f"overlap_{REFERENCE_LABEL}": (np.nan if reference is None
                                                            else _overlap(share, reference.to_numpy()))})
    return pd.DataFrame(rows)
