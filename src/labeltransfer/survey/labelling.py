"""Label stars that have no labels: a survey's spectra, block by block, with trained models.

A survey file (a Gaia XP or RVS bulk chunk, a DataLink reply, or sampled spectra in ``.npz``) is
read ``block_rows`` sources at a time; each block is put on the model's pixel grid (XP:
:func:`labeltransfer.xp.flux.normalised_xp_flux`, one matrix product with the XP basis then the
division by the median flux, the route of the XP archive tasks' training spectra too), labelled by
every model, flagged, and appended to each model's catalogue. Memory is bounded by the block, not by
the file. A catalogue (:mod:`labeltransfer.survey.catalogue`: Parquet, FITS or ECSV) has one row per
source with ``source_id``, ``snr``, each label and its calibrated 1-sigma ``<label>_err``, and
``flags`` (:data:`SURVEY_FLAGS`), each column with its unit and description; its provenance holds
the model file's SHA-256, the sample, split and seed it was trained on, whether the
out-of-distribution flags were computed and against what, the rows of the input left out, the
package version, the data release and the survey file. A source_id that appears twice in the input
is refused: a catalogue has one row per source.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import __version__
from .catalogue import catalogue_metadata, catalogue_rows, read_catalogue, write_catalogue, written_whole
from ..io import SkippedRows, FileFormatError, path_list, require
from ..io.arrays import load_npz, nonpositive_error
from ..io.checksums import file_checksum
from ..io.gaia_bulk import bulk_tables
from ..io.gaia_rvs import RVS_WAVELENGTH
from ..io.gaia_rvs_bulk import rvs_blocks
from ..xp.bulk import xp_blocks
from ..xp.library import XP_WAVELENGTH
from ..methods import IncompatibleDataError
from ..diagnostics.ood import SURVEY_FLAGS, TrainingDomain
from ..data.spectra import Spectra
from ..xp.basis import XPSampler
from ..xp.flux import divided_by_median, normalised_xp_flux

__all__ = ["SURVEY_FLAGS", "SurveyModel", "survey_blocks", "normalised_spectra", "label_file", "read_catalogue",
           "catalogue_metadata"]

log = logging.getLogger(__name__)


@dataclass
class SurveyModel:
    """A trained model, where it came from, and (optionally) its side of the flags: ``domain`` for the
    spectrum and label flags (the label bit's threshold from this model's predictions of the validation
    stars), ``misfit_baseline`` (the model's ``misfit_baseline`` of its training stars) for its own;
    ``domain_file`` (the saved domain read, :meth:`read_domain`) or ``training_set`` (the sample, split
    and seed it was computed from) says against what, for the provenance."""

    name: str
    model: object
    path: Path
    domain: TrainingDomain = None
    misfit_baseline: float = None
    domain_file: dict = None
    training_set: dict = None

    def provenance(self):
        """The model's file, its SHA-256, what it was trained on, and whether (and against what) the
        out-of-distribution flags were computed."""
        provenance = {"method": self.name, "model_file": str(self.path), "model_sha256": file_checksum(self.path),
                      "trained_on": self.model.provenance_, "method_type": self.model.method_type}
        if self.domain_file:
            provenance["flags_domain"] = self.domain_file
        provenance["out_of_distribution_flags"] = self._flags_provenance()
        return provenance

    def _flags_provenance(self):
        if self.domain is None:
            return {"computed": False, "note": "no training set or flags' training domain was given: bits 1, 2 and 4 are "
                                               "0 for every source, which says nothing about them"}
        against = ({"flags_domain": self.domain_file} if self.domain_file else
                   {"training_set": self.training_set} if self.training_set else None)
        return {"computed": True, "against": against}

    def write_domain(self, path):
        """Save the training set's side of the flags (``.npz``), for chunk jobs to :meth:`read_domain`
        instead of each reading the training set: ``domain``, ``misfit_baseline`` (a number, or
        None) and the model file's SHA-256; written to a hidden ``.<name>.part`` first."""
        has_misfit = self.misfit_baseline is not None
        with written_whole(path) as part, open(part, "wb") as handle:
            np.savez(handle, **self.domain.to_arrays(), has_misfit_baseline=has_misfit,
                     misfit_baseline=float(self.misfit_baseline) if has_misfit else np.nan,
                     model_sha256=file_checksum(self.path))

    def read_domain(self, path):
        """Take the flags' training domain that :meth:`write_domain` saved for this model file; return self.

        Raises
        ------
        IncompatibleDataError
            The file is no flags' training domain (not a ``.npz``, or without its arrays), was saved for
            another model file (another training, or another method), with another seed than the
            model's, or by a version with other settings of the flags.
        """
        with load_npz(path, "a flags' training domain", IncompatibleDataError) as arrays:
            missing = sorted({"model_sha256", "misfit_baseline", "has_misfit_baseline", "settings"}
                             - set(arrays.files))
            if missing:
                raise IncompatibleDataError(f"{path} is no flags' training domain of this version (no {', '.join(missing)}): "
                                            "make it anew")
            if str(arrays["model_sha256"]) != file_checksum(self.path):
                raise IncompatibleDataError(f"{path} holds the flags' training domain of another model than {self.path} "
                                            "(retrained since?): make it anew")
            try:
                domain = TrainingDomain.from_arrays(arrays)
            except (ValueError, KeyError) as error:
                raise IncompatibleDataError(f"{path}: {error}: make it anew (rerun the workflow's survey_domain "
                                            "rule, or give --sample and --split instead of --domain)") from error
            misfit = float(arrays["misfit_baseline"]) if bool(arrays["has_misfit_baseline"]) else None
        seed = (self.model.provenance_ or {}).get("seed")
        if seed is not None and domain.seed != seed:
            raise IncompatibleDataError(f"{path}: the flags' thresholds were drawn with seed {domain.seed}, "
                                        f"{self.path} was trained with seed {seed}: make it anew")
        self.domain, self.misfit_baseline = domain, misfit
        self.domain_file = {"file": str(path), "sha256": file_checksum(path)}
        return self


def survey_blocks(paths, block_rows, threads=1, skipped=None):
    """Yield ``(source_id, Spectra, flags)`` of survey files, ``block_rows`` sources at a time.

    ``paths``, one file or several, each told apart by its columns:

    - XP continuous coefficients (``bp_coefficients``, ...: a ``XpContinuousMeanSpectrum`` bulk
      chunk, a DataLink CSV or its zip reply), sampled on the XP library's grid and divided by each spectrum's
      median flux, as the library's and the XP archive tasks' spectra are; a band missing or
      unusable is masked (flag bit 8), a source with no usable band left out;
    - RVS mean spectra (``flux``, ``flux_error``: a ``RvsMeanSpectrum`` bulk chunk, a ``RAW``
      DataLink CSV or its zip reply), as the archive gives them (normalised to the pseudo-continuum), as the RVS
      tasks' are;
    - sampled spectra (``.npz`` with ``source_id``, ``flux``, ``flux_error``, ``wavelength``),
      divided by their median flux.

    ``flags`` holds the bits the spectra alone decide (:data:`SURVEY_FLAGS`: ``missing_band``, and
    ``nonpositive_error`` where a pixel with a flux had a ``flux_error <= 0``, then masked). Rows
    left out (damaged, or without a spectrum) are counted in ``skipped``
    (:class:`~labeltransfer.io.SkippedRows`). ``threads`` > 1: the text is parsed on
    Arrow's thread pool.
    """
    skipped = SkippedRows() if skipped is None else skipped
    for path in path_list(paths):
        yield from _file_blocks(Path(path), block_rows, threads, skipped)


def _file_blocks(path, block_rows, threads, skipped):
    if path.suffix == ".npz":
        yield from _sampled_blocks(path, block_rows)
        return
    for name, handle, columns in bulk_tables(path):
        if "bp_coefficients" in columns:
            yield from _xp_file_blocks(xp_blocks(handle, columns, name, block_rows, threads, skipped), name, skipped)
        elif {"flux", "flux_error"} <= set(columns):
            for source_id, flux, error, nonpositive in rvs_blocks(handle, columns, name, block_rows, threads, skipped):
                yield source_id, Spectra(flux, error, RVS_WAVELENGTH.copy(), np.empty((len(flux), 0)), ()), \
                    SURVEY_FLAGS["nonpositive_error"] * nonpositive
        else:
            raise FileFormatError(f"{name}: neither XP continuous coefficients (bp_coefficients, ...) nor RVS "
                                    f"spectra (flux, flux_error); its columns: {', '.join(sorted(columns))}")


def _xp_file_blocks(blocks, name, skipped):
    """The XP blocks sampled and normalised (:func:`labeltransfer.xp.flux.normalised_xp_flux`, as the XP
    archive tasks' spectra are), with bit 8 where a band is missing or unusable; the
    sources with no usable band left out and counted."""
    sampler = XPSampler(XP_WAVELENGTH)
    for block in blocks:
        flux, error, usable = normalised_xp_flux(sampler, block.coefficients, block.errors, block.correlations)
        source_id, labelled = block.source_id, usable.any(axis=1)
        if not labelled.all():
            log.warning("%s: %d sources (e.g. %d) have no XP band with finite coefficients, errors and correlations: "
                        "left out", name, np.sum(~labelled), source_id[np.argmin(labelled)])
            skipped.add("no_spectrum", np.sum(~labelled))
            source_id, flux, error, usable = source_id[labelled], flux[labelled], error[labelled], usable[labelled]
        yield source_id, Spectra(flux, error, XP_WAVELENGTH.copy(), np.empty((len(flux), 0)), ()), \
            SURVEY_FLAGS["missing_band"] * ~usable.all(axis=1)


def _sampled_blocks(path, block_rows):
    with load_npz(path, "sampled spectra", FileFormatError) as arrays:
        require(arrays.files, ("source_id", "flux", "flux_error", "wavelength"), f"{path}: sampled spectra",
                FileFormatError, "array")
        source_id, flux, error, wavelength = (arrays[key] for key in ("source_id", "flux", "flux_error", "wavelength"))
    if (flux.ndim != 2 or error.shape != flux.shape or wavelength.shape != flux.shape[1:]
            or source_id.shape != flux.shape[:1] or not np.issubdtype(source_id.dtype, np.integer)):
        raise FileFormatError(f"{path}: flux {flux.shape}, flux_error {error.shape}, wavelength {wavelength.shape}, "
                                f"source_id {source_id.shape} of {source_id.dtype}: sampled spectra need flux and "
                                "flux_error (n_sources, n_pixels), wavelength (n_pixels,) and integer source_id "
                                "(n_sources,)")
    for lo in range(0, len(source_id), block_rows):
        rows = slice(lo, lo + block_rows)
        nonpositive = nonpositive_error(flux[rows], error[rows])
        block_error = np.where(np.isfinite(error[rows]) & (error[rows] > 0), error[rows], np.inf)
        yield source_id[rows], normalised_spectra(flux[rows], block_error, wavelength), \
            SURVEY_FLAGS["nonpositive_error"] * nonpositive


def normalised_spectra(flux, error, wavelength):
    """Spectra (float32, no auxiliary features) divided by their median flux over the unmasked pixels
    (:func:`labeltransfer.xp.flux.divided_by_median`), as the library's are."""
    normalised, normalised_error = divided_by_median(flux, error)
    return Spectra(normalised, normalised_error, np.asarray(wavelength, dtype=float), np.empty((len(flux), 0)), ())


def label_file(path, models, outputs, *, block_rows=2_000, metadata=None, threads=1, progress=True):
    """Label every source of a survey file with every model and write one catalogue per model.

    Parameters
    ----------
    path : path or list of path
        The survey file, or files labelled into one catalogue (:func:`survey_blocks`).
    models : list of SurveyModel
    outputs : list of path
        One catalogue per model (:func:`labeltransfer.survey.catalogue.write_catalogue`: the suffix
        decides the format), written whole or not at all.
    block_rows : int
        Sources read, converted and labelled at a time.
    metadata : dict, optional
        Added to each catalogue's provenance (the data release, the config).
    threads : int
        Threads of the text parsing and of the neighbour searches of the flags (the models have theirs).

    Returns
    -------
    dict
        ``{"n_sources": ..., "seconds": ..., "skipped_rows": {"damaged": ..., "no_spectrum": ...}}``

    Raises
    ------
    FileFormatError
        A source_id that appears more than once in the input (nothing is written).
    """
    start = time.perf_counter()
    tables = [[] for _ in models]
    files = [str(p) for p in path_list(path)]
    name = Path(files[0]).name if len(files) == 1 else f"{len(files)} files"
    skipped, n_sources = SkippedRows(), 0
    with tqdm(desc=f"labelling {name}", unit="star", mininterval=2.0, disable=not progress) as bar:
        for source_id, spectra, flags in survey_blocks(path, block_rows, threads, skipped):
            for survey_model, parts in zip(models, tables):
                parts.append(_label_block(survey_model, source_id, spectra, flags, threads))
            n_sources += len(source_id)
            bar.update(len(source_id))
    _refuse_repeated_sources(tables[0], files)
    seconds = time.perf_counter() - start
    provenance = {"package_version": __version__, "survey_file": files[0] if len(files) == 1 else files,
                  "n_sources": n_sources, "skipped_rows": skipped.counts, **(metadata or {})}
    for survey_model, parts, output in zip(models, tables, outputs):
        table = pd.concat(parts, ignore_index=True) if parts else _empty_table(survey_model)
        write_catalogue(table, output, {**provenance, **survey_model.provenance()}, survey_model.model.label_names_)
    log.info("%s: %d sources labelled by %d models in %.1f s (%.0f sources/s); rows left out: %d damaged, %d "
             "without a spectrum", name, n_sources, len(models), seconds, n_sources / max(seconds, 1e-9),
             skipped.counts["damaged"], skipped.counts["no_spectrum"])
    return {"n_sources": n_sources, "seconds": seconds, "skipped_rows": skipped.counts}


def _refuse_repeated_sources(parts, files):
    """Raise FileFormatError when a source_id appears more than once among the labelled rows."""
    if not parts:
        return
    source_ids, counts = np.unique(np.concatenate([part["source_id"].to_numpy() for part in parts]),
                                   return_counts=True)
    repeated = np.flatnonzero(counts > 1)
    if len(repeated):
        first = repeated[0]
        raise FileFormatError(f"{', '.join(files)}: source_id {source_ids[first]} appears {counts[first]} times "
                                f"({len(repeated)} source_ids repeat): a catalogue has one row per source; remove "
                                "the repeated rows (overlapping files?)")


def _label_block(survey_model, source_id, spectra, flags, threads):
    model = survey_model.model
    try:
        model.check_compatible(spectra)
    except IncompatibleDataError as error:
        raise IncompatibleDataError(f"{survey_model.path}: {error}") from error
    if survey_model.domain is None:
        labels, sigma = model.predict(spectra)
    else:
        labels, sigma, misfit = model.predict_and_flag(spectra, survey_model.misfit_baseline)
        flags = flags + survey_model.domain.flags(spectra, labels, misfit, workers=threads)
    return catalogue_rows(source_id, spectra.snr(), model.label_names_, labels, sigma, flags)


def _empty_table(survey_model):
    """The catalogue of a file without a labelled source: its columns, no row."""
    n_labels = len(survey_model.model.label_names_)
    return catalogue_rows(np.empty(0, np.int64), np.empty(0), survey_model.model.label_names_,
                          np.empty((0, n_labels)), np.empty((0, n_labels)), np.empty(0, np.int16))
