"""``labeltransfer``: the package's command line (``labeltransfer label --help``)."""

import argparse
import logging
import sys
from pathlib import Path

__all__ = ["main"]


def _label(args):
    """Label a file of spectra with trained models, outside Snakemake."""
    from .methods import load_model_file
    from .pipeline.survey_stage import flagging_models
    from .survey import SurveyModel, label_file

    if len(args.model) > 1 and not args.out.is_dir() and args.out.suffix:
        sys.exit(f"labeltransfer label: {len(args.model)} models need a folder for --out, not {args.out}")
    names = [Path(path).stem for path in args.model]
    if args.sample:
        models = flagging_models(names, args.model, args.threads, args.sample, args.split,
                                 42 if args.seed is None else args.seed)
    else:
        models = [SurveyModel(name, load_model_file(path).set_params(threads=args.threads), Path(path))
                  for name, path in zip(names, args.model)]
        for survey_model, reference in zip(models, args.reference or []):
            survey_model.read_reference(reference)
    outputs = [args.out] if len(models) == 1 and args.out.suffix else [args.out / f"{m.name}.parquet" for m in models]
    spectra = args.spectra if args.spectra else _fetched_spectra(args)
    label_file(spectra, models, outputs, block_rows=args.block_rows, threads=args.threads,
               metadata={"data_release": args.data_release})
    for output in outputs:
        print(output)


def _fetched_spectra(args):
    """The spectra of the ``--source-ids`` fetched from the Gaia archive's DataLink service (one zip
    reply per batch of 5,000, as the archive tasks fetch them), beside ``--out``."""
    import numpy as np

    from .pipeline.archives import fetch_datalink_replies

    try:
        source_ids = np.loadtxt(args.source_ids, dtype=np.int64, comments="#", ndmin=1)
    except ValueError as error:
        sys.exit(f"labeltransfer label: {args.source_ids}: not a list of Gaia source_ids, one per line ({error})")
    folder = (args.out.parent if args.out.suffix else args.out) / f"{args.source_ids.stem}_datalink"
    return fetch_datalink_replies(source_ids, args.product, args.data_url, folder)


def main(argv=None):
    """Entry point of the ``labeltransfer`` command."""
    parser = argparse.ArgumentParser(prog="labeltransfer", description="Transfer stellar labels between surveys.")
    commands = parser.add_subparsers(dest="command", required=True)
    label = commands.add_parser(
        "label", help="label a file of spectra with trained models",
        description="Label every source of a file of spectra with trained models (results/<task>/models/*.npz) "
                    "and write a Parquet catalogue per model: source_id, snr, each label with its calibrated "
                    "1-sigma <label>_err, and flags (1 spectrum, 2 labels, 4 model out of distribution, 8 one XP "
                    "band missing); the provenance is in the file's metadata. Spectra: Gaia XP continuous "
                    "coefficients (the bulk download's XpContinuousMeanSpectrum_*.csv.gz, or a DataLink reply), Gaia "
                    "RVS mean spectra (RvsMeanSpectrum_*.csv.gz, or a DataLink RAW reply) or sampled spectra (.npz "
                    "with source_id, flux, flux_error, wavelength), or those of a list of source_ids fetched from the "
                    "Gaia archive (--source-ids).")
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
    label.add_argument("--out", required=True, type=Path, help="the catalogue (.parquet), or a folder for several models")
    label.add_argument("--sample", type=Path, help="the run's data/sample.npz: adds the out-of-distribution flags")
    label.add_argument("--split", type=Path, help="the run's data/split.csv (with --sample)")
    label.add_argument("--seed", type=int, help="with --sample: seed of the flags' thresholds (the run's; default 42)")
    label.add_argument("--reference", action="append", type=Path,
                       help="instead of --sample and --split: the flags' reference of each --model, in the same "
                            "order, as the workflow saves them (results/<task>/survey/references/<method>.npz)")
    label.add_argument("--block-rows", type=int, default=2_000, help="sources read and labelled at a time")
    label.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    label.add_argument("--data-release", default="Gaia DR3", help="recorded in the catalogue's provenance")
    args = parser.parse_args(argv)
    if args.command == "label" and bool(args.sample) != bool(args.split):
        parser.error("--sample and --split go together")
    if args.command == "label" and args.reference and (args.sample or args.seed is not None
                                                        or len(args.reference) != len(args.model)):
        parser.error("--reference: one per --model, and not with --sample or --seed (the reference has its seed)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _label(args)


if __name__ == "__main__":
    main()
