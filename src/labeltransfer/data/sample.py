"""Quality cuts, label masking and features: the labelled sample every method is trained on."""

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .spectra import Spectra

__all__ = ["LabelledSample", "FEATURE_SETS", "build_sample", "feature_names"]

log = logging.getLogger(__name__)

#: Auxiliary features that each feature set adds to the flux (colours come from config).
FEATURE_SETS = {"flux": (), "flux_colours": ("colours",),
                "flux_colours_parallax": ("colours", "parallax")}
PARALLAX_FEATURES = ("parallax", "reduced_parallax_h")


@dataclass
class LabelledSample:
    """Stars that passed the cuts: IDs, spectra with every auxiliary feature, labels, S/N.

    Attributes
    ----------
    apogee_id : ndarray of str, shape (n_stars,)
        APOGEE IDs.
    source_id : ndarray of int64, shape (n_stars,)
        Gaia source_ids (0 where unknown).
    spectra : Spectra
    labels, label_err : ndarray, shape (n_stars, n_labels)
        Reference labels and 1-sigma errors (error floors applied); NaN where masked.
    label_names : tuple of str
    snr : ndarray, shape (n_stars,)
        Median per-pixel S/N of the spectrum being labelled.
    g_mag : ndarray, shape (n_stars,)
        Gaia G magnitude (NaN where unknown): how S/N maps to brightness.
    ra, dec, extinction_k : ndarray, shape (n_stars,)
        Position (deg) and A_K (mag), NaN where unknown: for the residual trends.
    provenance : dict
        Where the stars come from (:class:`labeltransfer.data.stars.SourceStars`): source, data
        releases, input files with their sha256.
    split_fingerprint : str or None
        :func:`labeltransfer.data.split.split_fingerprint` of the split made with the sample
        (:func:`labeltransfer.data.split.freeze_split`), which :func:`labeltransfer.data.split.read_split`
        checks; None until the split is made, and for a subset.
    path : Path or None
        The file the sample was read from (None for a sample made in memory).
    """

    apogee_id: np.ndarray
    source_id: np.ndarray
    spectra: Spectra
    labels: np.ndarray
    label_err: np.ndarray
    label_names: tuple
    snr: np.ndarray
    g_mag: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    extinction_k: np.ndarray
    provenance: dict
    split_fingerprint: str = None
    path: Path = None

    def save(self, path):
        """Write the sample and its split's fingerprint as one ``.npz`` file (see
        :func:`labeltransfer.data.split.freeze_split`)."""
        if self.split_fingerprint is None:
            raise ValueError(f"{path}: a sample is saved with the fingerprint of its split "
                             "(labeltransfer.data.split.freeze_split)")
        np.savez(path, apogee_id=self.apogee_id, source_id=self.source_id, flux=self.spectra.flux, flux_error=self.spectra.flux_error,
                 wavelength=self.spectra.wavelength, aux=self.spectra.aux,
                 aux_names=np.array(self.spectra.aux_names), labels=self.labels,
                 label_err=self.label_err, label_names=np.array(self.label_names), snr=self.snr,
                 g_mag=self.g_mag, ra=self.ra, dec=self.dec, extinction_k=self.extinction_k,
                 provenance=np.array(json.dumps(self.provenance)), split_fingerprint=np.array(self.split_fingerprint))

    @classmethod
    def load(cls, path):
        """Read a sample written by ``save``."""
        with np.load(path, allow_pickle=False) as a:
            missing = [key for key in ("extinction_k", "split_fingerprint") if key not in a.files]
            if missing:
                raise ValueError(f"{path}: a sample written by an older version of the workflow (no "
                                 f"{', '.join(missing)}); delete {Path(path).parent}/ and rerun snakemake")
            spectra = Spectra(a["flux"], a["flux_error"], a["wavelength"], a["aux"],
                              tuple(str(n) for n in a["aux_names"]))
            return cls(a["apogee_id"].astype(str), a["source_id"], spectra, a["labels"], a["label_err"],
                       tuple(str(n) for n in a["label_names"]), a["snr"], a["g_mag"], a["ra"], a["dec"],
                       a["extinction_k"], json.loads(str(a["provenance"])),
                       split_fingerprint=str(a["split_fingerprint"]), path=Path(path))

    def subset(self, rows):
        """The stars selected by ``rows`` (no split of theirs recorded, no file)."""
        return LabelledSample(self.apogee_id[rows], self.source_id[rows], self.spectra.subset(rows), self.labels[rows],
                              self.label_err[rows], self.label_names, self.snr[rows], self.g_mag[rows], self.ra[rows],
                              self.dec[rows], self.extinction_k[rows], self.provenance)

    def fingerprint(self):
        """sha256 (hex) of the sample's stars, labels, spectra and features."""
        digest = hashlib.sha256("\n".join(self.apogee_id).encode())
        for name in (*self.label_names, "|", *self.spectra.aux_names):
            digest.update(name.encode())
        for array in (self.labels, self.label_err, self.spectra.flux, self.spectra.flux_error, self.spectra.aux,
                      self.spectra.wavelength):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def rows_of(self, ids):
        """Row numbers of the given IDs; fails naming IDs that are not in the sample."""
        position = pd.Index(self.apogee_id).get_indexer(ids)
        if (position < 0).any():
            raise KeyError(f"{(position < 0).sum()} IDs are not in the sample, "
                           f"e.g. {np.asarray(ids)[position < 0][:3].tolist()}")
        return position


def build_sample(stars, label_config, quality, colours):
    """Apply the quality cuts and assemble labels and features.

    Parameters
    ----------
    stars : SourceStars
        The stars of one source (:mod:`labeltransfer.sources`).
    label_config : dict
        Per label: ``range`` [min, max], ``max_err``, ``err_floor``, ``required``. A required
        label outside its range or too uncertain removes the star; any other such label is
        masked (NaN) and the star stays.
    quality : dict
        ``min_snr`` (median flux/flux_error) and ``max_masked_fraction`` of pixels.
    colours : list of str
        Colour features, for example ``["bp_rp", "g_h"]``.

    Returns
    -------
    LabelledSample
    """
    n = len(stars)
    flux_error = stars.spectra.flux_error.copy()
    bad_pixel = ~np.isfinite(stars.spectra.flux) | ~np.isfinite(flux_error)
    flux_error[bad_pixel] = np.inf
    flux = np.where(bad_pixel, 0.0, stars.spectra.flux).astype(np.float32)
    keep = bad_pixel.mean(axis=1) <= quality["max_masked_fraction"]
    _log_cut("too many masked or non-finite pixels", keep, n)
    if not keep.any():
        raise ValueError(f"{stars.describe()}: no spectrum has enough finite pixels "
                         f"(max_masked_fraction={quality['max_masked_fraction']})")
    wavelength = stars.spectra.wavelength
    snr = Spectra(flux, flux_error, wavelength, np.empty((n, 0)), ()).snr()
    cut = keep & (snr >= quality["min_snr"])
    _log_cut(f"S/N below {quality['min_snr']}", cut, keep.sum())
    keep = cut
    labels, label_err, keep = _masked_labels(stars, label_config, keep)
    aux, aux_names = _auxiliary_features(stars, colours)
    log.info("sample: %d of %d stars pass the cuts", keep.sum(), n)
    if not keep.any():
        raise ValueError(f"{stars.describe()}: no star passes the quality cuts")
    spectra = Spectra(flux[keep], flux_error[keep], wavelength, aux[keep], aux_names)
    return LabelledSample(stars.apogee_id[keep], stars.source_id[keep], spectra, labels[keep], label_err[keep],
                          tuple(label_config), snr[keep], stars.photometry["g"][keep], stars.ra[keep], stars.dec[keep],
                          stars.extinction_k[keep], stars.provenance)


def _masked_labels(stars, label_config, keep):
    """Labels and errors of ``label_config`` (error floors applied, NaN where masked), and
    ``keep`` less the stars whose required label fails its range or error cut."""
    labels = np.column_stack([stars.label(name)[0] for name in label_config]).astype(float)
    label_err = np.column_stack([stars.label(name)[1] for name in label_config]).astype(float)
    for k, (name, cfg) in enumerate(label_config.items()):
        lo, hi = cfg["range"]
        good = (np.isfinite(labels[:, k]) & (labels[:, k] >= lo) & (labels[:, k] <= hi)
                & np.isfinite(label_err[:, k]) & (label_err[:, k] <= cfg["max_err"]))
        label_err[:, k] = np.maximum(label_err[:, k], cfg["err_floor"])
        if cfg["required"]:
            before = keep.sum()
            keep = keep & good
            _log_cut(f"{name} missing, outside {lo}..{hi} or error > {cfg['max_err']}", keep, before)
        else:
            log.info("%s: masked for %d stars (missing, outside %s..%s or error > %s); they "
                     "stay in the sample", name, (keep & ~good).sum(), lo, hi, cfg["max_err"])
        labels[~good, k] = np.nan
        label_err[~good, k] = np.nan
    return labels, label_err, keep


def _auxiliary_features(stars, colours):
    """Colours and parallax features, shape (n_stars, n_colours + 2), NaN where missing."""
    columns = [stars.colour(name) for name in colours]
    reduced = stars.parallax * 10 ** (0.2 * stars.photometry["h"]) / 100.0
    columns += [stars.parallax, reduced]
    return np.column_stack(columns), tuple(colours) + PARALLAX_FEATURES


def feature_names(feature_set, colours):
    """Auxiliary feature names that ``feature_set`` gives a method."""
    if feature_set not in FEATURE_SETS:
        raise KeyError(f"unknown feature set {feature_set!r}; choose from {', '.join(FEATURE_SETS)}")
    names = []
    for group in FEATURE_SETS[feature_set]:
        names += list(colours) if group == "colours" else list(PARALLAX_FEATURES)
    return names


def _log_cut(reason, keep, before):
    removed = int(before - keep.sum())
    if removed:
        log.info("cut %d stars: %s", removed, reason)
