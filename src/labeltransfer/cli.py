"""``labeltransfer``: the package's command line (``labeltransfer label --help``).

An error the user can act on (:func:`user_errors`: a file that cannot be read or is not what it
should be, a catalogue that would overwrite a file, a model that does not fit the spectra, ...)
prints one line, ``labeltransfer label: <file>: <what is wrong>``, and exits with status 1;
``--debug`` shows its traceback instead. Anything else is a bug, and shows its traceback.
"""

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["LabelCommandError", "user_errors", "main"]

log = logging.getLogger(__name__)

_DESCRIPTION = """\
Label every source of a file of spectra with trained models (results/<task>/models/*.npz) and write
a catalogue per model: source_id, snr, each label with its calibrated 1-sigma <label>_err, and flags,
the sum of bits: 1 spectrum, 2 labels, 4 model out of distribution (set only with --sample/--split or
--domain; without them the command warns, and the catalogue's provenance says they were not
computed), 8 one XP band missing or unusable (a NaN, infinite or overflowing coefficient, error or
correlation: labelled from the other band), 16 pixels with a flux_error <= 0 (left out). Every
column's unit and description, the bits' meanings and the provenance are in the file. The --out
suffix decides the format: .parquet, .fits (TUNIT/TCOMM, for TOPCAT) or .ecsv (a .csv is refused:
it cannot hold units); an existing --out is replaced only with --overwrite, and never an input.
Spectra: Gaia XP continuous coefficients (the bulk download's XpContinuousMeanSpectrum_*.csv.gz, or
a DataLink reply), Gaia RVS mean spectra (RvsMeanSpectrum_*.csv.gz, or a DataLink RAW reply) or
sampled spectra (.npz with source_id, flux, flux_error, wavelength), or those of a list of
source_ids fetched from the Gaia archive (--source-ids). A damaged row of a file is left out and
counted (log and provenance); a file with more than half of its rows read damaged is refused; a
source_id that appears twice is refused. Errors print one line naming the file (--debug: the
traceback)."""


class LabelCommandError(ValueError):
    """A ``labeltransfer label`` command that would overwrite a file or lose a catalogue, or whose
    catalogue cannot be written where it asks."""


def user_errors():
    """The exceptions that are the user's to fix, printed as one line: this command's refusals, the
    package's own errors (a survey file's or a catalogue name's format, a model or flags' training domain
    that does not fit, a split or sample that does not match the model, too few stars, a failed
    download) and ``OSError`` (a file that is missing, unreadable or cannot be written)."""
    from .survey.catalogue import CatalogueNameError
    from .io import FileFormatError
    from .io.checksums import DownloadError
    from .methods import IncompatibleDataError, TooFewStarsError
    from .pipeline.jobs import ProvenanceError
    from .data.split import SplitError

    return (LabelCommandError, CatalogueNameError, FileFormatError, IncompatibleDataError, TooFewStarsError,
            ProvenanceError, SplitError, DownloadError, OSError)


def _one_line(error):
    """An error's message on one line (an OSError as ``<file>: <reason>``)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error)
    return " ".join(text.split())


def _catalogues(args):
    """The catalogue of each --model, checked before any labelling: --out itself (its suffix names
    the format) or ``<out>/<model name>.parquet`` for a folder; none may be an input, an existing
    file without --overwrite, or shared by two models; the folder must be writable."""
    from .survey.catalogue import catalogue_format

    models = [Path(path) for path in args.model]
    if args.out.is_dir() or not args.out.suffix:
        outputs = [args.out / f"{model.stem}.parquet" for model in models]
    elif len(models) > 1:
        raise LabelCommandError(f"{args.out}: {len(models)} models need a folder for --out, one catalogue each")
    else:
        outputs = [args.out]
    written_by = {}
    for model, output in zip(models, outputs):
        if output in written_by:
            raise LabelCommandError(f"{output}: --model {written_by[output]} and --model {model} would both write "
                                    "this catalogue: label them into separate --out folders")
        written_by[output] = model
    inputs = [args.spectra, args.source_ids, *models, args.sample, args.split, *(args.domain or [])]
    resolved = {Path(path).resolve(): path for path in inputs if path is not None}
    for output in outputs:
        if output.resolve() in resolved:
            raise LabelCommandError(f"{output}: --out is the input {resolved[output.resolve()]}, which it would "
                                    "overwrite: choose another --out")
        catalogue_format(output)
        if output.exists() and not args.overwrite:
            raise LabelCommandError(f"{output} exists: --overwrite replaces it (or choose another --out)")
    _check_writable(outputs[0].parent)
    return outputs


def _check_writable(folder):
    """Make ``folder`` (and its parents) and write a temporary file in it, or raise LabelCommandError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise LabelCommandError(f"{folder}: the catalogue cannot be written there ({error.strerror or error})") from error


def _label(args):
    """Label a file of spectra with trained models, outside Snakemake."""
    from .methods.device import load_for_job
    from .pipeline.survey import flagging_models
    from .survey.labelling import SurveyModel, label_file

    outputs = _catalogues(args)
    names = [Path(path).stem for path in args.model]
    if args.sample:
        models = flagging_models(names, args.model, args.threads, args.sample, args.split,
                                 42 if args.seed is None else args.seed)
    else:
        models = [SurveyModel(name, load_for_job(path, args.threads), Path(path))
                  for name, path in zip(names, args.model)]
        for survey_model, domain in zip(models, args.domain or []):
            survey_model.read_domain(domain)
    if not (args.sample or args.domain):
        log.warning("no --sample/--split or --domain: the out-of-distribution flags (bits 1, 2, 4) are not "
                    "computed, 0 for every source (the catalogue's provenance says so)")
    spectra = args.spectra if args.spectra else _fetched_spectra(args)
    label_file(spectra, models, outputs, block_rows=args.block_rows, threads=args.threads,
               metadata={"data_release": args.data_release})
    for output in outputs:
        print(output)


def _fetched_spectra(args):
    """The spectra of the ``--source-ids`` (each asked once) fetched from the Gaia archive's DataLink
    service (one zip reply per batch of 5,000, as the archive tasks fetch them) into
    ``_<ids>_datalink/`` beside ``--out`` (the ``_`` keeps the replies out of ``pandas.read_parquet``
    of the catalogues' folder)."""
    import numpy as np

    from .pipeline.archives import fetch_datalink_replies

    try:
        listed = np.loadtxt(args.source_ids, dtype=np.int64, comments="#", ndmin=1)
    except ValueError as error:
        raise LabelCommandError(f"{args.source_ids}: not a list of Gaia source_ids, one per line ({error})") from error
    source_ids = listed[np.sort(np.unique(listed, return_index=True)[1])]
    if len(source_ids) < len(listed):
        log.info("%s: %d repeated source_ids asked once", args.source_ids, len(listed) - len(source_ids))
    folder = (args.out.parent if args.out.suffix else args.out) / f"_{args.source_ids.stem}_datalink"
    return fetch_datalink_replies(source_ids, args.product, args.data_url, folder)


def _positive_int(text):
    """argparse type: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="labeltransfer", description="Transfer stellar labels between surveys.")
    commands = parser.add_subparsers(dest="command", required=True)
    label = commands.add_parser("label", help="label a file of spectra with trained models", description=_DESCRIPTION)
    label.add_argument("--model", action="append", required=True, type=Path, help="a trained model (repeatable)")
    spectra = label.add_mutually_exclusive_group(required=True)
    spectra.add_argument("--spectra", type=Path, help="the file of spectra to label")
    spectra.add_argument("--source-ids", type=Path,
                         help="a file of Gaia DR3 source_ids (one per line): their spectra are fetched from the "
                              "Gaia archive's DataLink service (--product, --data-url), then labelled")
    label.add_argument("--product", choices=["xp_continuous", "rvs"], default="xp_continuous",
                       help="the spectra fetched for --source-ids (default xp_continuous)")
    label.add_argument("--data-url", default="https://gea.esac.esa.int/data-server/data",
                       help="the Gaia archive's DataLink service (with --source-ids)")
    label.add_argument("--out", required=True, type=Path,
                       help="the catalogue (.parquet, .fits or .ecsv), or a folder for one <model>.parquet per model")
    label.add_argument("--overwrite", action="store_true", help="replace an existing --out catalogue")
    label.add_argument("--sample", type=Path, help="the run's data/sample.npz: adds the out-of-distribution flags")
    label.add_argument("--split", type=Path, help="the run's data/split.csv (with --sample)")
    label.add_argument("--seed", type=int, help="with --sample: seed of the flags' thresholds (the run's; default 42)")
    label.add_argument("--domain", action="append", type=Path,
                       help="instead of --sample and --split: the flags' training domain of each --model, in the same "
                            "order, as the workflow saves them (results/<task>/survey/domains/<method>.npz)")
    label.add_argument("--block-rows", type=_positive_int, default=2_000,
                       help="sources read and labelled at a time (above 0; default 2000)")
    label.add_argument("--threads", type=_positive_int, default=1, help="CPU threads (default 1)")
    label.add_argument("--data-release", default="Gaia DR3", help="recorded in the catalogue's provenance")
    label.add_argument("--debug", action="store_true", help="show an error's traceback instead of its one line")
    return parser


def main(argv=None):
    """Entry point of the ``labeltransfer`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "label" and bool(args.sample) != bool(args.split):
        parser.error("--sample and --split go together")
    if args.command == "label" and args.domain and (args.sample or args.seed is not None
                                                        or len(args.domain) != len(args.model)):
        parser.error("--domain: one per --model, and not with --sample or --seed (the domain has its seed)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # threads that wait sleep rather than spin (read when PyTorch's or XGBoost's OpenMP loads, below),
    # as in the workflow's jobs (workflow/scripts/_package.py); a policy the user set is kept
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    errors = user_errors()
    try:
        _label(args)
    except errors as error:
        if args.debug:
            raise
        sys.exit(f"labeltransfer label: {_one_line(error)}")


if __name__ == "__main__":
    main()
