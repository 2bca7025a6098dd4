"""The stars of one source as one typed record: what every source adapter returns.

A source adapter (:mod:`labeltransfer.sources`) reads a task's input files and returns a
:class:`SourceStars`, whatever the survey; the quality cuts, label masks and features of
:func:`labeltransfer.data.sample.build_sample` read nothing else, so a new source is one adapter.
"""

from dataclasses import dataclass

import numpy as np

from .spectra import Spectra

__all__ = ["BANDS", "SourceStars"]

#: Photometric bands of every record: Gaia G, BP, RP and 2MASS J, H, K_s (magnitudes).
BANDS = ("g", "bp", "rp", "j", "h", "k")


@dataclass
class SourceStars:
    """One row per star: identifiers, reference labels, photometry, parallax, spectra, provenance.

    Attributes
    ----------
    apogee_id : ndarray of str, shape (n_stars,)
        APOGEE IDs (the stars' names across the workflow).
    source_id : ndarray of int64, shape (n_stars,)
        Gaia (E)DR3 source_id; 0 where unknown.
    label_names : tuple of str
    labels, label_err : ndarray of float, shape (n_stars, n_labels)
        Reference labels and their 1-sigma errors as the survey gives them; NaN marks a
        missing label (the mask, see ``label_mask``). No cut has been applied.
    photometry : dict of str to ndarray
        Magnitudes in each band of ``BANDS``, shape (n_stars,); NaN where missing.
    parallax, parallax_error : ndarray of float, shape (n_stars,)
        Gaia parallax and its error, mas; NaN where unknown.
    ra, dec : ndarray of float, shape (n_stars,)
        Position (ICRS, deg); NaN where unknown.
    extinction_k : ndarray of float, shape (n_stars,)
        A_K, the K-band extinction APOGEE targeted with (``AK_TARG``), mag; NaN where unknown.
    spectra : Spectra
        The spectra to label, with no auxiliary features (``build_sample`` adds them).
    provenance : dict
        JSON-serialisable: ``source`` (the adapter), ``release`` (the data releases read) and
        ``files`` (each input file with its sha256; a manifest with a digest of the files it
        lists).
    """

    apogee_id: np.ndarray
    source_id: np.ndarray
    label_names: tuple
    labels: np.ndarray
    label_err: np.ndarray
    photometry: dict
    parallax: np.ndarray
    parallax_error: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    extinction_k: np.ndarray
    spectra: Spectra
    provenance: dict

    def __post_init__(self):
        n = len(self.apogee_id)
        self.label_names = tuple(self.label_names)
        per_star = {"source_id": self.source_id, "parallax": self.parallax,
                    "parallax_error": self.parallax_error, "ra": self.ra, "dec": self.dec,
                    "extinction_k": self.extinction_k, "spectra": self.spectra,
                    **{f"photometry[{band!r}]": values for band, values in self.photometry.items()}}
        wrong = [f"{name} has {len(values)}" for name, values in per_star.items() if len(values) != n]
        if set(self.photometry) != set(BANDS):
            wrong.append(f"photometry has bands {', '.join(self.photometry)}, not {', '.join(BANDS)}")
        for name in ("labels", "label_err"):
            if getattr(self, name).shape != (n, len(self.label_names)):
                wrong.append(f"{name} has shape {getattr(self, name).shape}, not ({n}, {len(self.label_names)})")
        if wrong:
            raise ValueError(f"{self.describe()}: a record of {n} stars, but " + "; ".join(wrong))

    def __len__(self):
        return len(self.apogee_id)

    @property
    def label_mask(self):
        """True where a star has a reference value of a label, shape (n_stars, n_labels)."""
        return np.isfinite(self.labels)

    def label(self, name):
        """The values and errors of one label, each shape (n_stars,); KeyError naming the source if absent."""
        if name not in self.label_names:
            raise KeyError(f"{self.describe()} has no label {name!r} (it has {', '.join(self.label_names)})")
        k = self.label_names.index(name)
        return self.labels[:, k], self.label_err[:, k]

    def colour(self, name):
        """A colour such as ``bp_rp`` or ``g_h``: the difference of two bands' magnitudes, mag."""
        first, _, second = name.partition("_")
        if first not in BANDS or second not in BANDS:
            raise KeyError(f"unknown colour {name!r}: bands are {', '.join(BANDS)}")
        return self.photometry[first] - self.photometry[second]

    def describe(self):
        """The source and its input files, for messages."""
        files = ", ".join(entry["path"] for entry in self.provenance.get("files", ()))
        return f"{self.provenance.get('source', 'stars')} ({files})" if files else self.provenance.get("source", "stars")
