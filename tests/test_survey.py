"""Survey labelling: XP bulk chunks read block by block, converted by the XP basis (checked against
gaiaxpy.calibrate), labelled into Parquet catalogues with provenance; bad input named; the CLI."""

import csv
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_FIXTURES, load_bench
from fake_archive import FakeArchive, datalink
from labeltransfer.cli import main as cli
from labeltransfer.survey.catalogue import CatalogueNameError, write_catalogue
from labeltransfer.io.checksums import ChecksumError, file_checksum, read_checksum_manifest, verify_checksum
from labeltransfer.io import FileFormatError
from labeltransfer.io import SkippedRows
from labeltransfer.io.gaia_rvs import RVS_WAVELENGTH, read_rvs
from labeltransfer.xp.bulk import XPBulkFormatError, read_xp_blocks
from labeltransfer.io.remote import HTTPStatusError
from labeltransfer.xp.library import XP_WAVELENGTH
from labeltransfer.methods import IncompatibleDataError, load_model_file, make_method
from labeltransfer.diagnostics.ood import TrainingDomain
from labeltransfer.pipeline.survey import fetch_survey_file, gather_survey, label_chunk
from labeltransfer.survey.summary import SurveyAccumulator
from labeltransfer.data.sample import build_sample
from labeltransfer.data.spectra import Spectra
from labeltransfer.survey.labelling import SURVEY_FLAGS, SurveyModel, catalogue_metadata, label_file, read_catalogue
from labeltransfer.xp.basis import XPSampler, design_matrix
from library_factory import synthetic_stars
from survey_factory import as_bulk_ecsv, write_bulk_chunk_of, write_survey_area, write_xp_continuous, xp_template

REAL_XP = SHARED_FIXTURES / "real" / "gaia_xp"
LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True},
          "fe_h": {"range": [-2.5, 0.7], "max_err": 0.2, "err_floor": 0.01, "required": True}}


def _check_sampler_against_gaiaxpy(csv_path, bulk_path):
    from gaiaxpy import calibrate

    table = pd.read_csv(csv_path)
    sampled, _ = calibrate(table.copy(), sampling=XP_WAVELENGTH, save_file=False)
    sampled = sampled.set_index("source_id")
    as_bulk_ecsv(table, bulk_path)
    block = next(read_xp_blocks(bulk_path))
    flux, error = XPSampler(XP_WAVELENGTH).sample(block.coefficients, block.errors, block.correlations)
    for i, source_id in enumerate(block.source_id):
        expected = np.asarray(sampled.loc[source_id, "flux"])
        expected_error = np.asarray(sampled.loc[source_id, "flux_error"])
        both = np.isfinite(flux[i]) & np.isfinite(expected)
        assert np.max(np.abs(flux[i][both] - expected[both])) < 1e-6 * np.nanmax(np.abs(expected))
        # the errors in float32, as the archive's coefficient errors and correlations are: a few parts
        # in a million where the pixel's variance is a small difference of large terms
        np.testing.assert_allclose(error[i][both], expected_error[both], rtol=1e-5)
        # one band missing: its pixels are masked here (a superset of gaiaxpy's NaN: the overlap too)
        assert np.isnan(flux[i][np.isnan(expected)]).all() and np.isinf(error[i][np.isnan(flux[i])]).all()
        assert both.sum() >= (343 if block.has_band()[i].all() else 150)


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_the_sampler_gives_gaiaxpy_s_flux_and_errors_on_real_bulk_rows(tmp_path):
    for name in ("XP_CONTINUOUS_RAW.csv", "XP_CONTINUOUS_RAW_with_missing_BP.csv"):
        _check_sampler_against_gaiaxpy(REAL_XP / name, tmp_path / f"{name}.gz")


def test_the_sampler_gives_gaiaxpy_s_flux_and_errors_on_generated_rows(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [11, 12, 13, 14], no_bp=[13], seed=4)
    _check_sampler_against_gaiaxpy(tmp_path / "xp.csv", tmp_path / "xp.csv.gz")


def test_blocks_bound_the_rows_read_and_rows_without_spectra_are_counted(tmp_path, caplog):
    write_xp_continuous(tmp_path / "xp.csv", list(range(1, 12)), no_coefficients=[5], seed=2)
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv"), tmp_path / "xp.csv.gz")
    blocks = list(read_xp_blocks(tmp_path / "xp.csv.gz", block_rows=4))
    assert [len(b) for b in blocks] == [4, 3, 3] and 5 not in np.concatenate([b.source_id for b in blocks])
    assert "1 sources without BP and RP coefficients left out" in caplog.text


def _edited_chunk(source, path, edit):
    """A copy of a gzipped bulk chunk with ``edit(lines)`` applied to its lines."""
    lines = gzip.open(source, "rt").read().splitlines()
    edit(lines)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def _row(lines, source_id):
    return next(i for i, line in enumerate(lines) if line.startswith(f"{source_id},"))


def test_a_truncated_chunk_and_a_missing_column_are_errors_naming_the_file(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", list(range(1, 40)), seed=2)
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv"), tmp_path / "whole.csv.gz")
    data = (tmp_path / "whole.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(XPBulkFormatError, match="cut.csv.gz.*truncated or damaged"):
        list(read_xp_blocks(tmp_path / "cut.csv.gz"))
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv").drop(columns="rp_coefficient_correlations"), tmp_path / "cols.csv.gz")
    with pytest.raises(XPBulkFormatError, match=r"cols.csv.gz: missing required column\(s\) rp_coefficient_corr"):
        list(read_xp_blocks(tmp_path / "cols.csv.gz"))


#: Damage of one row each, as it can be found in a bulk chunk: the row of
#: XpContinuousMeanSpectrum_614517-614573 whose bp_basis_function_id cannot be parsed, a cut row, a
#: source_id, an array element or an array length that is wrong, an empty array of a band the row has.
ROW_DAMAGE = {
    3: lambda line: line.replace('"[', '"[1.0,', 1),  # 56 BP coefficients
    5: lambda line: re.sub(r'"\[[^,]*,', '"[abc,', line, count=1),  # a coefficient that is no number
    7: lambda line: line.replace(",56,", ",56a,", 1),  # bp_basis_function_id that is no number
    9: lambda line: line[: line.index('"[')],  # cut short: too few cells
    11: lambda line: "11x" + line[2:],  # a source_id that is no number
    13: lambda line: re.sub(r'("\[[^"]*\]",)("\[[^"]*\]")', r"\1null", line, count=1),  # BP errors empty
}


def test_damaged_rows_are_left_out_counted_and_named_and_the_rest_labelled(tmp_path, caplog, trained):
    write_xp_continuous(tmp_path / "xp.csv", list(range(1, 40)), seed=2)
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv"), tmp_path / "whole.csv.gz")

    def damage(lines):
        for source_id, change in ROW_DAMAGE.items():
            lines[_row(lines, source_id)] = change(lines[_row(lines, source_id)])

    damaged = _edited_chunk(tmp_path / "whole.csv.gz", tmp_path / "damaged.csv.gz", damage)
    skipped = SkippedRows()
    blocks = list(read_xp_blocks(damaged, block_rows=10, skipped=skipped))
    kept = np.concatenate([block.source_id for block in blocks])
    assert list(kept) == [i for i in range(1, 40) if i not in ROW_DAMAGE] and skipped.counts["damaged"] == 6
    assert "damaged.csv.gz: 6 damaged rows left out of 39" in caplog.text
    assert "damaged.csv.gz: a damaged row left out: " in caplog.text
    whole = {sid: row for block in read_xp_blocks(tmp_path / "whole.csv.gz") for sid, row in
             zip(block.source_id, block.coefficients)}
    for block in blocks:  # the rows kept are read as they are in the undamaged file
        for sid, row in zip(block.source_id, block.coefficients):
            np.testing.assert_array_equal(row, whole[sid])
    folder, model = trained[:2]
    label_file(damaged, [SurveyModel("knn", model, folder / "knn.npz")], [tmp_path / "damaged.parquet"], progress=False)
    metadata = catalogue_metadata(tmp_path / "damaged.parquet")
    assert metadata["n_sources"] == 33 and metadata["skipped_rows"] == {"damaged": 6, "no_spectrum": 0}


def test_a_mostly_damaged_chunk_is_refused_naming_the_file(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", list(range(1, 8)), seed=2)
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv"), tmp_path / "whole.csv.gz")

    def damage(lines):
        for source_id in (1, 3, 5, 7):
            lines[_row(lines, source_id)] = ROW_DAMAGE[3](lines[_row(lines, source_id)])

    damaged = _edited_chunk(tmp_path / "whole.csv.gz", tmp_path / "mostly.csv.gz", damage)
    with pytest.raises(XPBulkFormatError, match=r"mostly.csv.gz: 4 of the 7 rows read are damaged \(the first: "
                                                r"bp_coefficients of source 1 has 56 values"):
        list(read_xp_blocks(damaged))
    rows = gzip.open(tmp_path / "whole.csv.gz", "rt").read().splitlines()
    rows += [",".join(["x"] * 26)] * 3000  # a good start, then garbage: refused once half of the rows read are bad
    with gzip.open(tmp_path / "tail.csv.gz", "wt") as handle:
        handle.write("\n".join(rows) + "\n")
    with pytest.raises(XPBulkFormatError, match=r"tail.csv.gz: \d+ of the \d+ rows read are damaged"):
        list(read_xp_blocks(tmp_path / "tail.csv.gz", block_rows=100))


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_a_datalink_csv_reads_as_its_bulk_layout_does(tmp_path):
    real = REAL_XP / "XP_CONTINUOUS_RAW_with_missing_BP.csv"
    as_bulk_ecsv(pd.read_csv(real), tmp_path / "bulk.csv.gz")
    datalink, bulk = next(read_xp_blocks(real)), next(read_xp_blocks(tmp_path / "bulk.csv.gz"))
    assert len(datalink) == 3 and not datalink.has_band()[:, 0].all() and datalink.has_band()[:, 1].all()
    for name in ("source_id", "coefficients", "errors", "correlations"):
        np.testing.assert_array_equal(getattr(datalink, name), getattr(bulk, name))


def test_an_undefined_array_element_is_nan(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [1, 2, 3], seed=2)
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv"), tmp_path / "whole.csv.gz")

    def undefine(lines):
        lines[_row(lines, 2)] = re.sub(r'"\[[^,]*,', '"[null,', lines[_row(lines, 2)], count=1)  # source 2's BP 0

    block = next(read_xp_blocks(_edited_chunk(tmp_path / "whole.csv.gz", tmp_path / "undefined.csv.gz", undefine)))
    assert np.isnan(block.coefficients[1, 0, 0]) and np.isfinite(block.coefficients[1, 0, 1:]).all()
    assert np.isfinite(block.coefficients[[0, 2]]).all()


def test_the_factory_s_bulk_area_is_laid_out_as_the_archive_s(tmp_path):
    names = write_survey_area(tmp_path / "area", 2, 4, xp_template(tmp_path), missing_bp_per_chunk=1)
    listed = read_checksum_manifest((tmp_path / "area" / "_MD5SUM.txt").read_text())
    assert sorted(listed) == sorted([*names, "_citation.txt", "_disclaimer.txt"])
    for name, checksum in listed.items():
        verify_checksum(tmp_path / "area" / name, checksum)
    lines = gzip.open(tmp_path / "area" / names[0], "rt").read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    assert header[0] == "# %ECSV 1.0" and len(header) > 26 * 6  # every one of the 26 columns described
    assert "#   name: bp_basis_function_id" in header and "#   subtype: 'float32[null]'" in header
    assert len(lines[len(header)].split(",")) == 26 and len(lines) == len(header) + 1 + 4
    assert sum(len(block) for block in read_xp_blocks(tmp_path / "area" / names[0])) == 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A nearest-neighbour model trained on synthetic stars, its training set, and a bulk chunk made
    from 150 other stars (the first three without BP)."""
    folder = tmp_path_factory.mktemp("survey")
    sample = build_sample(synthetic_stars(1200, seed=3), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    sample.spectra = sample.spectra.select_aux([])  # the flux alone, as the XP chunks carry
    # spectra an XP source can have (the synthetic shapes projected on the XP basis), divided by their
    # median as the library's are
    design = design_matrix(XP_WAVELENGTH)
    flux = (design @ np.linalg.lstsq(design, sample.spectra.flux.T.astype(float), rcond=1e-6)[0]).T
    median = np.median(flux, axis=1, keepdims=True)
    sample.spectra.flux, sample.spectra.flux_error = flux / median, sample.spectra.flux_error / median
    train, stars = sample.subset(np.arange(1000)), sample.subset(np.arange(1000, 1150))
    model = make_method("knn", {"n_neighbours": 5, "n_components": 10}).fit(
        train.spectra, train.labels, train.label_err, train.label_names)
    model.provenance_ = {"sample": "s", "split": "p", "seed": 0}
    model.save(folder / "knn.npz")
    ids = np.arange(150, dtype=np.int64) * 2 ** 35 + 7
    write_bulk_chunk_of(folder / "chunk.csv.gz", stars.spectra, ids, xp_template(folder), missing_bp=ids[:3])
    return folder, model, train, stars, ids


def _domain(model, train, stars, seed=0):
    """The model's flags' training domain, the label bit's threshold from its predictions of ``stars`` (not
    training stars: they stand in for the validation split)."""
    return TrainingDomain(train.spectra, train.labels, model.predict(stars.spectra)[0], seed)


def test_a_chunk_is_labelled_into_a_catalogue_with_its_provenance(trained):
    folder, model, train, stars, ids = trained
    survey_model = SurveyModel("knn", model, folder / "knn.npz", _domain(model, train, stars),
                               model.misfit_baseline(train.spectra))
    outputs = [folder / "one_block.parquet", folder / "blocks_of_40.parquet"]
    for output, block_rows in zip(outputs, (1000, 40)):
        label_file(folder / "chunk.csv.gz", [survey_model], [output], block_rows=block_rows,
                   metadata={"data_release": "Gaia DR3"}, progress=False)
    table = read_catalogue([outputs[0]])
    pd.testing.assert_frame_equal(table, read_catalogue([outputs[1]]))  # blocks change nothing
    assert list(table["source_id"]) == list(ids)
    assert list(table.columns) == ["source_id", "snr", "teff", "teff_err", "logg", "logg_err", "fe_h", "fe_h_err",
                                   "flags"]
    error = np.abs(table[["teff", "logg", "fe_h"]].to_numpy()[3:] - stars.labels[3:])
    reference = np.abs(model.predict(stars.spectra)[0][3:] - stars.labels[3:])
    assert np.all(np.median(error, axis=0) < 1.5 * np.median(reference, axis=0) + [20, 0.05, 0.03])
    missing = (table["flags"] & SURVEY_FLAGS["missing_band"]) > 0
    assert missing[:3].all() and not missing[3:].any()
    assert np.isfinite(table[["teff", "logg", "fe_h"]].to_numpy()[:3]).all()  # labelled from the other band
    metadata = catalogue_metadata(outputs[0])
    assert metadata["model_sha256"] and metadata["trained_on"] == model.provenance_
    assert metadata["data_release"] == "Gaia DR3" and metadata["n_sources"] == 150 and metadata["package_version"]


def _edit_cells(chunk, path, edits):
    """A copy of a bulk chunk with cells replaced: ``edits`` maps a source_id to ``{column: function of
    the cell's text}`` (an array's text ``[v1,...]``, or ``null``)."""
    def edit(lines):
        names = next(line for line in lines if not line.startswith("#")).split(",")
        for source_id, changes in edits.items():
            row = _row(lines, source_id)
            cells = next(csv.reader([lines[row]]))
            for column, change in changes.items():
                cells[names.index(column)] = change(cells[names.index(column)])
            lines[row] = ",".join(f'"{cell}"' if "," in cell else cell for cell in cells)

    return _edited_chunk(chunk, path, edit)


def _element(k, value):
    """A cell edit: element ``k`` of an array becomes ``value`` (text)."""
    def change(cell):
        values = cell[1:-1].split(",")
        values[k] = value
        return "[" + ",".join(values) + "]"
    return change


def test_a_band_with_a_nan_infinite_or_overflowing_value_is_masked_and_flagged_as_a_missing_band(trained, tmp_path):
    folder, model, _, _, ids = trained
    band_arrays = ("coefficients", "coefficient_errors", "coefficient_correlations")
    edits = {ids[10]: {"bp_coefficients": _element(5, "NaN")},  # undefined in one coefficient
             ids[11]: {"rp_coefficient_errors": _element(7, "1e400")},  # overflows float64 and float32
             ids[12]: {"bp_coefficient_correlations": _element(100, "Infinity")},
             ids[13]: {"bp_coefficients": _element(0, "nan"), "rp_coefficients": _element(3, "inf")}}  # both bands
    bad = _edit_cells(folder / "chunk.csv.gz", tmp_path / "bad.csv.gz", edits)
    without = {ids[10]: dict.fromkeys([f"bp_{name}" for name in band_arrays], lambda cell: "null"),
               ids[11]: dict.fromkeys([f"rp_{name}" for name in band_arrays], lambda cell: "null"),
               ids[12]: dict.fromkeys([f"bp_{name}" for name in band_arrays], lambda cell: "null")}
    missing = _edit_cells(folder / "chunk.csv.gz", tmp_path / "missing.csv.gz", without)
    survey_model = SurveyModel("knn", model, folder / "knn.npz")
    for chunk in (bad, missing, folder / "chunk.csv.gz"):
        label_file(chunk, [survey_model], [tmp_path / f"{chunk.name}.parquet"], progress=False)
    labelled, expected, whole = (read_catalogue([tmp_path / f"{name}.parquet"]).set_index("source_id")
                                 for name in ("bad.csv.gz", "missing.csv.gz", "chunk.csv.gz"))
    assert ids[13] not in labelled.index and len(labelled) == 149  # no usable band: left out, counted
    assert catalogue_metadata(tmp_path / "bad.csv.gz.parquet")["skipped_rows"] == {"damaged": 0, "no_spectrum": 1}
    rows = list(ids[10:13])
    assert (labelled.loc[rows, "flags"] == SURVEY_FLAGS["missing_band"]).all()
    pd.testing.assert_frame_equal(labelled.loc[rows], expected.loc[rows])  # as if the band were missing
    assert np.all(labelled.loc[rows, "snr"] > 0) and not np.allclose(labelled.loc[rows, "teff"], whole.loc[rows, "teff"])
    unchanged = [i for i in ids if i not in edits]
    pd.testing.assert_frame_equal(labelled.loc[unchanged], whole.loc[unchanged])


def test_a_pixel_whose_error_is_not_positive_is_masked_and_flagged(trained, tmp_path):
    folder, model, _, stars, ids = trained
    flux, error = stars.spectra.flux[:20].copy(), stars.spectra.flux_error[:20].copy()
    error[0, 10], error[1, 20:25], error[2, 30] = 0.0, -0.01, np.nan  # NaN: a masked pixel, not flagged
    masked = error.copy()
    masked[0, 10], masked[1, 20:25] = np.inf, np.inf
    for name, errors in (("given", error), ("masked", masked)):
        np.savez(tmp_path / f"{name}.npz", source_id=ids[:20], flux=flux, flux_error=errors,
                 wavelength=stars.spectra.wavelength)
        label_file(tmp_path / f"{name}.npz", [SurveyModel("knn", model, folder / "knn.npz")],
                   [tmp_path / f"{name}.parquet"], progress=False)
    given, expected = (read_catalogue([tmp_path / f"{name}.parquet"]) for name in ("given", "masked"))
    assert given["flags"].tolist() == [16, 16] + [0] * 18 and (given["snr"] > 0).all()
    pd.testing.assert_frame_equal(given.drop(columns="flags"), expected.drop(columns="flags"))


def test_a_source_id_given_twice_is_refused_and_nothing_written(trained, tmp_path):
    folder, model, _, stars, ids = trained
    repeated = ids[:10].copy()
    repeated[7] = repeated[2]
    np.savez(tmp_path / "twice.npz", source_id=repeated, flux=stars.spectra.flux[:10],
             flux_error=stars.spectra.flux_error[:10], wavelength=stars.spectra.wavelength)
    with pytest.raises(FileFormatError, match=rf"twice.npz: source_id {ids[2]} appears 2 times \(1 source_ids repeat"):
        label_file(tmp_path / "twice.npz", [SurveyModel("knn", model, folder / "knn.npz")],
                   [tmp_path / "twice.parquet"], progress=False)
    assert not list(tmp_path.glob("*twice.parquet*"))


def test_a_catalogue_describes_its_columns_flags_and_provenance_in_every_format(trained, tmp_path):
    from astropy.io import fits
    from astropy.table import Table

    folder, model, train, stars, _ = trained
    flagged = SurveyModel("knn", model, folder / "knn.npz", _domain(model, train, stars))
    flagged.write_domain(tmp_path / "reference.npz")
    flagged = SurveyModel("knn", model, folder / "knn.npz").read_domain(tmp_path / "reference.npz")
    outputs = [tmp_path / name for name in ("labels.parquet", "labels.fits", "labels.ecsv")]
    label_file(folder / "chunk.csv.gz", [flagged] * 3, outputs, progress=False)
    parquet = read_catalogue(outputs[:1])
    for output in outputs:
        metadata = catalogue_metadata(output)
        assert metadata["out_of_distribution_flags"] == {"computed": True, "against": {
            "flags_domain": {"file": str(tmp_path / "reference.npz"), "sha256": file_checksum(tmp_path / "reference.npz")}}}
        assert set(metadata["flag_bits"]) == {"1", "2", "4", "8", "16"} and "band" in metadata["flag_bits"]["8"]
        table = Table.read(output, unit_parse_strict="silent") if output.suffix == ".fits" else Table.read(output)
        assert str(table["teff"].unit) == "K" and str(table["teff_err"].unit) == "K" and table["flags"].unit is None
        assert str(table["fe_h"].unit) == "dex" and str(table["logg"].unit) in ("dex(cm / s2)", "log(cm.s**-2)")
        np.testing.assert_array_equal(np.asarray(table["teff"]), parquet["teff"].to_numpy())
    schema = pq.read_schema(outputs[0])
    assert schema.field("teff").metadata == {b"unit": b"K", b"description": schema.field("teff").metadata[b"description"]}
    assert b"effective temperature" in schema.field("teff").metadata[b"description"]
    attrs = pd.read_parquet(outputs[0]).attrs
    assert attrs["units"]["logg_err"] == "dex(cm / s2)" and "16 nonpositive_error" in attrs["descriptions"]["flags"]
    assert Table.read(outputs[0])["snr"].description.startswith("median per-pixel S/N")
    header = fits.getheader(outputs[1], 1)
    columns = [header[f"TTYPE{k}"] for k in range(1, header["TFIELDS"] + 1)]
    assert header[f"TUNIT{columns.index('fe_h') + 1}"] == "dex" and header[f"TCOMM{columns.index('flags') + 1}"]
    assert header["FLAG8"].startswith("missing_band: one XP band missing, or unusable")
    pd.testing.assert_frame_equal(pd.read_csv(outputs[2], comment="#"), parquet, check_dtype=False)
    unflagged = tmp_path / "unflagged.parquet"
    label_file(folder / "chunk.csv.gz", [SurveyModel("knn", model, folder / "knn.npz")], [unflagged], progress=False)
    assert catalogue_metadata(unflagged)["out_of_distribution_flags"]["computed"] is False
    with pytest.raises(CatalogueNameError, match=r"labels.csv: a .csv file cannot hold .* name it .ecsv"):
        label_file(folder / "chunk.csv.gz", [flagged], [tmp_path / "labels.csv"], progress=False)


def test_a_killed_write_leaves_no_file_a_reader_of_the_folder_finds(trained, tmp_path, monkeypatch):
    folder, model, train, stars, _ = trained
    survey_model = SurveyModel("knn", model, folder / "knn.npz", _domain(model, train, stars))
    catalogues = tmp_path / "catalogues"
    label_file(folder / "chunk.csv.gz", [survey_model], [catalogues / "a.parquet"], progress=False)
    monkeypatch.setattr("os.replace", lambda source, target: None)  # killed before the rename
    label_file(folder / "chunk.csv.gz", [survey_model], [catalogues / "b.parquet"], progress=False)
    survey_model.write_domain(tmp_path / "references" / "knn.npz")
    monkeypatch.undo()
    assert sorted(p.name for p in catalogues.iterdir()) == [".b.parquet.part", "a.parquet"]
    assert [p.name for p in (tmp_path / "references").iterdir()] == [".knn.npz.part"]
    pd.testing.assert_frame_equal(pd.read_parquet(catalogues), read_catalogue([catalogues / "a.parquet"]))
    (catalogues / ".b.parquet.part").write_bytes(b"")  # killed at its start
    assert len(pd.read_parquet(catalogues)) == 150

    def broken(table, path, provenance, columns):
        path.write_bytes(b"PAR1")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("labeltransfer.survey.catalogue._write_parquet", broken)
    with pytest.raises(OSError, match="No space left"):
        label_file(folder / "chunk.csv.gz", [survey_model], [catalogues / "c.parquet"], progress=False)
    assert sorted(p.name for p in catalogues.iterdir()) == [".b.parquet.part", "a.parquet"]


def test_a_saved_flags_reference_labels_as_the_training_set_itself_does(trained):
    folder, knn, train, stars, _ = trained
    cannon = make_method("cannon", {"order": 1}).fit(train.spectra, train.labels, train.label_err, train.label_names)
    cannon.provenance_ = knn.provenance_
    cannon.save(folder / "cannon.npz")
    for name in ("knn", "cannon"):
        path, reference = folder / f"{name}.npz", folder / "references" / f"{name}.npz"
        model = load_model_file(path)
        direct = SurveyModel(name, model, path, _domain(model, train, stars))
        direct.misfit_baseline = direct.model.misfit_baseline(train.spectra)
        direct.write_domain(reference)
        saved = SurveyModel(name, load_model_file(path), path).read_domain(reference)
        assert saved.misfit_baseline == direct.misfit_baseline and (saved.misfit_baseline is None) == (name == "knn")
        outputs = [folder / f"{name}_direct.parquet", folder / f"{name}_saved.parquet"]
        label_file(folder / "chunk.csv.gz", [direct, saved], outputs, progress=False)
        table = read_catalogue(outputs[1:])
        pd.testing.assert_frame_equal(read_catalogue(outputs[:1]), table)
    # every bit of the flags is set somewhere, so the comparison means something
    assert all((table["flags"] & bit).any() for bit in (SURVEY_FLAGS["spectrum"], SURVEY_FLAGS["labels"],
                                                        SURVEY_FLAGS["model"]))
    with pytest.raises(IncompatibleDataError, match=r"references/knn.npz holds .* another model than .*cannon.npz"):
        SurveyModel("cannon", cannon, folder / "cannon.npz").read_domain(folder / "references" / "knn.npz")


def test_a_saved_flags_reference_keeps_a_nan_threshold_and_refuses_another_seed_or_settings(trained, monkeypatch):
    folder, knn, train, stars, _ = trained
    path = folder / "knn.npz"
    saved = SurveyModel("knn", knn, path, _domain(knn, train, stars), float("nan"))
    saved.write_domain(folder / "nan.npz")
    assert np.isnan(SurveyModel("knn", knn, path).read_domain(folder / "nan.npz").misfit_baseline)
    SurveyModel("knn", knn, path, _domain(knn, train, stars, seed=1)).write_domain(folder / "seed1.npz")
    with pytest.raises(IncompatibleDataError, match=r"seed1.npz: .*drawn with seed 1, .*knn.npz was trained with seed 0"):
        SurveyModel("knn", knn, path).read_domain(folder / "seed1.npz")
    np.savez(folder / "other.npz", flux=np.ones(3))
    with pytest.raises(IncompatibleDataError, match=r"other.npz is no flags' training domain of this version \(no has_misfit"):
        SurveyModel("knn", knn, path).read_domain(folder / "other.npz")
    monkeypatch.setattr("labeltransfer.diagnostics.ood.K", 7)
    with pytest.raises(IncompatibleDataError, match=r"nan.npz: made with other settings of the flags"):
        SurveyModel("knn", knn, path).read_domain(folder / "nan.npz")


def test_a_model_trained_with_other_features_is_refused_naming_its_file(trained):
    folder, _, train, _, _ = trained
    with_colour = train.spectra.select_aux([])
    with_colour.aux, with_colour.aux_names = np.ones((len(train.apogee_id), 1)), ("bp_rp",)
    model = make_method("knn", {"n_components": 5}).fit(with_colour, train.labels, train.label_err, train.label_names)
    with pytest.raises(IncompatibleDataError, match=r"colour.npz: .*auxiliary features \['bp_rp'\]"):
        label_file(folder / "chunk.csv.gz", [SurveyModel("knn", model, folder / "colour.npz")],
                   [folder / "refused.parquet"], progress=False)
    assert not (folder / "refused.parquet").exists()


def test_the_command_line_labels_coefficients_and_sampled_spectra(trained, capsys):
    folder, model, _, stars, ids = trained
    cli(["label", "--model", str(folder / "knn.npz"), "--spectra", str(folder / "chunk.csv.gz"),
         "--out", str(folder / "cli.parquet"), "--block-rows", "64"])
    from_coefficients = read_catalogue([folder / "cli.parquet"])
    assert len(from_coefficients) == 150 and (from_coefficients["flags"] & ~SURVEY_FLAGS["missing_band"] == 0).all()
    np.savez(folder / "sampled.npz", source_id=ids, flux=stars.spectra.flux, flux_error=stars.spectra.flux_error,
             wavelength=stars.spectra.wavelength)
    cli(["label", "--model", str(folder / "knn.npz"), "--spectra", str(folder / "sampled.npz"), "--out",
         str(folder / "sampled.parquet")])
    np.testing.assert_allclose(read_catalogue([folder / "sampled.parquet"])[["teff", "logg", "fe_h"]],
                               model.predict(stars.spectra)[0], rtol=1e-5)
    with pytest.raises(SystemExit):  # a reference for each model, and not beside --sample
        cli(["label", "--model", str(folder / "knn.npz"), "--model", str(folder / "knn.npz"), "--spectra",
             str(folder / "sampled.npz"), "--out", str(folder), "--domain", str(folder / "knn_reference.npz")])
    assert "--domain: one per --model" in capsys.readouterr().err
    np.savez(folder / "partial.npz", source_id=ids, flux=stars.spectra.flux)
    with pytest.raises(SystemExit, match=r"partial.npz: sampled spectra: missing required array\(s\) flux_error, wave"):
        cli(["label", "--model", str(folder / "knn.npz"), "--spectra", str(folder / "partial.npz"), "--out",
             str(folder / "partial.parquet")])


def _rvs_stars(n, rng):
    """Labels and RVS-like spectra whose three lines follow them (the first 20 pixels empty)."""
    labels = np.column_stack([rng.uniform(4000, 6500, n), rng.uniform(1, 5, n), rng.uniform(-1, 0.3, n)])
    pixel = np.arange(RVS_WAVELENGTH.size)

    def line(centre, width):
        return np.exp(-0.5 * ((pixel - centre) / width) ** 2)

    flux = (1 - (0.3 + 0.2 * labels[:, 2:3]) * line(1200, 15) - 0.3 * (labels[:, 0:1] - 4000) / 2500 * line(600, 10)
            - 0.05 * labels[:, 1:2] * line(1800, 20) + rng.normal(0, 0.01, (n, pixel.size)))
    flux[:, :20] = np.nan
    return labels, flux


def test_an_rvs_bulk_chunk_is_labelled_as_its_datalink_spectra_are(tmp_path, trained):
    labels, flux = _rvs_stars(300, np.random.default_rng(5))
    error = np.where(np.isnan(flux), np.inf, 0.01)
    spectra = Spectra(np.nan_to_num(flux).astype(np.float32), error.astype(np.float32), RVS_WAVELENGTH,
                      np.empty((300, 0)), ())
    model = make_method("knn", {"n_neighbours": 5, "n_components": 10}).fit(
        spectra.subset(np.arange(250)), labels[:250], np.full((250, 3), 0.01), ("teff", "logg", "fe_h"))
    model.provenance_ = {"sample": "s", "split": "p", "seed": 0}
    model.save(tmp_path / "rvs_knn.npz")
    ids = np.arange(250, 300, dtype=np.int64) * 2 ** 35 + 3
    datalink = pd.DataFrame({"source_id": ids, "solution_id": 1, "ra": 10.0, "dec": -5.0,
                             "flux": ["(" + ", ".join("" if np.isnan(v) else f"{v:.6f}" for v in row) + ")"
                                      for row in flux[250:]],
                             "flux_error": ["(" + ", ".join(["0.01"] * RVS_WAVELENGTH.size) + ")"] * 50})
    datalink.to_csv(tmp_path / "rvs_datalink.csv", index=False)
    as_bulk_ecsv(datalink, tmp_path / "RvsMeanSpectrum_000000-003111.csv.gz")
    label_file(tmp_path / "RvsMeanSpectrum_000000-003111.csv.gz", [SurveyModel("knn", model, tmp_path / "rvs_knn.npz")],
               [tmp_path / "rvs.parquet"], block_rows=20, progress=False)
    catalogue = read_catalogue([tmp_path / "rvs.parquet"])
    read = read_rvs(tmp_path / "rvs_datalink.csv")
    expected = model.predict(Spectra(read["flux"], read["flux_error"], RVS_WAVELENGTH, np.empty((50, 0)), ()))[0]
    assert list(catalogue["source_id"]) == list(ids) and (catalogue["flags"] == 0).all()
    np.testing.assert_allclose(catalogue[["teff", "logg", "fe_h"]], expected, rtol=1e-5)
    truth = labels[250:, 0]
    assert np.median(np.abs(catalogue["teff"] - truth)) < 0.5 * np.median(np.abs(truth - np.median(truth)))
    folder, xp_model = trained[:2]
    with pytest.raises(IncompatibleDataError, match="knn.npz: "):  # an XP model on RVS spectra
        label_file(tmp_path / "RvsMeanSpectrum_000000-003111.csv.gz", [SurveyModel("knn", xp_model, folder / "knn.npz")],
                   [tmp_path / "refused.parquet"], progress=False)
    edits = {ids[4]: {"flux": lambda cell: cell[: cell.rindex(",")] + "]"},  # 2,400 values: damaged, left out
             ids[5]: {"flux_error": _element(600, "0.0")}, ids[6]: {"flux_error": _element(700, "-0.01")}}
    edited = _edit_cells(tmp_path / "RvsMeanSpectrum_000000-003111.csv.gz", tmp_path / "edited.csv.gz", edits)
    label_file(edited, [SurveyModel("knn", model, tmp_path / "rvs_knn.npz")], [tmp_path / "edited.parquet"],
               progress=False)
    labelled = read_catalogue([tmp_path / "edited.parquet"]).set_index("source_id")
    assert ids[4] not in labelled.index and catalogue_metadata(tmp_path / "edited.parquet")["skipped_rows"]["damaged"] == 1
    assert labelled.loc[ids[5:7], "flags"].tolist() == [16, 16] and (labelled.drop(ids[5:7])["flags"] == 0).all()
    assert (labelled["snr"] > 0).all()
    datalink[["source_id", "ra"]].to_csv(tmp_path / "neither.csv", index=False)
    with pytest.raises(FileFormatError, match="neither.csv: neither XP continuous coefficients"):
        label_file(tmp_path / "neither.csv", [SurveyModel("knn", model, tmp_path / "rvs_knn.npz")],
                   [tmp_path / "neither.parquet"], progress=False)


def test_the_command_line_labels_a_list_of_source_ids_fetched_from_datalink(trained, tmp_path):
    folder, model = trained[:2]
    write_xp_continuous(tmp_path / "xp.csv", [11, 12, 13, 14], no_bp=[13], seed=4)
    (tmp_path / "ids.txt").write_text("# my stars\n11\n12\n13\n14\n99\n12\n")  # 99 has no spectrum; 12 twice
    with FakeArchive(tmp_path / "served") as archive:
        archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": pd.read_csv(tmp_path / "xp.csv")})
        cli(["label", "--model", str(folder / "knn.npz"), "--source-ids", str(tmp_path / "ids.txt"), "--out",
             str(tmp_path / "out" / "mine.parquet"), "--data-url", f"{archive.url}/data-server/data"])
    label_file(tmp_path / "xp.csv", [SurveyModel("knn", model, folder / "knn.npz")], [tmp_path / "direct.parquet"],
               progress=False)
    fetched = read_catalogue([tmp_path / "out" / "mine.parquet"])
    assert any((tmp_path / "out" / "_ids_datalink").glob("*.zip"))  # the replies, beside the catalogue ...
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out"), fetched)  # ... where a reader of it skips them
    pd.testing.assert_frame_equal(fetched, read_catalogue([tmp_path / "direct.parquet"]))
    assert list(fetched["source_id"]) == [11, 12, 13, 14] and fetched["flags"].tolist() == [0, 0, 8, 0]
    assert catalogue_metadata(tmp_path / "out" / "mine.parquet")["survey_file"].endswith(".zip")  # the reply, read as it is
    (tmp_path / "table.csv").write_text("source_id,ra\n11,10.0\n")
    with pytest.raises(SystemExit, match="table.csv: not a list of Gaia source_ids, one per line"):
        cli(["label", "--model", str(folder / "knn.npz"), "--source-ids", str(tmp_path / "table.csv"), "--out",
             str(tmp_path / "refused.parquet")])


def test_survey_files_are_verified_against_the_archive_s_manifest(tmp_path):
    with FakeArchive(tmp_path / "served") as archive:
        chunk = b"chunk bytes"
        import hashlib

        manifest = f"{hashlib.md5(chunk).hexdigest()}  A.csv.gz\n{'0' * 32}  B.csv.gz\n{'1' * 32}  C.csv.gz\n"
        url = archive.put("xp/_MD5SUM.txt", manifest.encode())
        archive.put("xp/A.csv.gz", chunk)
        archive.put("xp/B.csv.gz", chunk)
        fetch_survey_file(url=url, path=tmp_path / "_MD5SUM.txt", timeout=5)
        fetch_survey_file(url=f"{archive.url}/xp/A.csv.gz", path=tmp_path / "A.csv.gz", timeout=5,
                          manifest_path=tmp_path / "_MD5SUM.txt")
        assert (tmp_path / "A.csv.gz").read_bytes() == chunk
        with pytest.raises(ChecksumError, match="B.csv.gz"):
            fetch_survey_file(url=f"{archive.url}/xp/B.csv.gz", path=tmp_path / "B.csv.gz", timeout=5,
                              manifest_path=tmp_path / "_MD5SUM.txt")
        with pytest.raises(HTTPStatusError, match="C.csv.gz: HTTP 404"):
            fetch_survey_file(url=f"{archive.url}/xp/C.csv.gz", path=tmp_path / "C.csv.gz", timeout=5,
                              manifest_path=tmp_path / "_MD5SUM.txt")
        with pytest.raises(ValueError, match="_MD5SUM.txt lists no D.csv.gz"):
            fetch_survey_file(url=f"{archive.url}/xp/D.csv.gz", path=tmp_path / "D.csv.gz", timeout=5,
                              manifest_path=tmp_path / "_MD5SUM.txt")


def test_the_gather_counts_flags_and_places_sources_on_the_sky(tmp_path):
    rng = np.random.default_rng(0)
    chunks = []
    for c in range(2):
        n = 500
        table = pd.DataFrame({"source_id": rng.integers(0, 12 * 4 ** 12, n) * 2 ** 35, "snr": 50.0,
                              "teff": rng.uniform(4000, 6000, n), "teff_err": 50.0, "logg": rng.uniform(1, 5, n),
                              "logg_err": 0.1, "fe_h": np.r_[np.full(n - 10, -0.3), np.full(10, np.nan)],
                              "fe_h_err": 0.05, "flags": np.r_[np.zeros(n - 50, int), np.full(50, 9)]})
        path = tmp_path / f"chunk{c}.parquet"
        if c == 0:  # as label_file writes it, with the input rows it left out
            write_catalogue(table, path, {"skipped_rows": {"damaged": 3, "no_spectrum": 1}}, ("teff", "logg", "fe_h"))
        else:  # a catalogue without provenance still counts
            table.to_parquet(path)
        chunks.append(path)
    gather_survey(catalogue_paths=chunks, labels=LABELS, method="knn", summary_path=tmp_path / "summary.csv",
                  figure_path=tmp_path / "survey.png")
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("quantity")["value"]
    assert summary["n_sources"] == 1000 and summary["n_chunks"] == 2 and summary["fe_h_missing"] == 20
    assert summary["n_rows_left_out_damaged"] == 3 and summary["n_rows_left_out_no_spectrum"] == 1
    assert summary["flagged_any_fraction"] == pytest.approx(0.1) and summary["flagged_missing_band_fraction"] == 0.1
    assert summary["flagged_spectrum_fraction"] == pytest.approx(0.1) and summary["flagged_labels_fraction"] == 0
    assert abs(summary["fe_h_p50"] + 0.3) < 0.01 and 4000 < summary["teff_p05"] < summary["teff_p95"] < 6000
    accumulator = SurveyAccumulator({k: v["range"] for k, v in LABELS.items()})
    accumulator.add(pd.read_parquet(chunks[0]))
    assert accumulator.sky_count.sum() == 490 and (tmp_path / "survey.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A task folder as a finished run leaves it: sample, split and a flux-only model trained on them."""
    from labeltransfer.data.sample import LabelledSample
    from labeltransfer.data.split import freeze_split, read_split, split_sample

    task = tmp_path_factory.mktemp("results") / "tiny"
    (task / "data").mkdir(parents=True)
    (task / "models").mkdir()
    sample = build_sample(synthetic_stars(600, seed=8), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    freeze_split(sample, split_sample(sample.apogee_id, {"train": 0.7, "validation": 0.15, "test": 0.15}, 42),
                 task / "data" / "sample.npz", task / "data" / "split.csv")
    sample = LabelledSample.load(task / "data" / "sample.npz")
    rows = read_split(task / "data" / "split.csv", sample)
    train = sample.subset(rows["train"])
    model = make_method("knn", {"n_components": 5}).fit(train.spectra.select_aux([]), train.labels, train.label_err,
                                                         train.label_names)
    model.provenance_ = {"sample": sample.fingerprint(), "split": sample.split_fingerprint, "seed": 42}
    model.save(task / "models" / "knn.npz")
    return task


def test_the_synthetic_survey_bench_labels_every_spectrum(finished_run, capsys):
    load_bench("synthetic_survey").main([str(finished_run), str(finished_run / "models" / "knn.npz"), "--sources", "900",
                                     "--files", "3", "--jobs", "2"])
    output = capsys.readouterr().out
    folder = Path(output.split("files written in ")[1].split("(")[1].split(")")[0])
    catalogue = read_catalogue(sorted(folder.glob("*.parquet")))
    assert len(catalogue) == 900 and catalogue["source_id"].is_unique and catalogue["teff"].notna().all()
    assert "labelled by knn.npz, 2 jobs at a time" in output and "peak memory" in output


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_the_chunk_bench_times_every_stage_and_the_chunk_job(finished_run, tmp_path, capsys):
    load_bench("survey_chunk").main([str(finished_run), "--config", str(_config_file(tmp_path)), "--sources", "300",
                                 "--block-rows", "100", "--methods", "knn", "--parallel", "2",
                                 "--json", str(tmp_path / "bench.json")])
    numbers = json.loads((tmp_path / "bench.json").read_text())
    assert numbers["n_sources"] == 300 and numbers["jobs"]["knn"]["peak_mb"] > 0
    assert numbers["jobs"]["knn"]["parallel"] == 2 and "2 chunk job(s) at once" in capsys.readouterr().out
    assert {"read and parse", "convert", "knn: labels", "knn: labels and flags"} <= set(numbers["stages"])
    assert all(seconds > 0 for seconds in numbers["stages"].values())


def _config_file(folder):
    import yaml

    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({"seed": 42, "method_settings": {}}))
    return path


def test_a_chunk_job_labels_with_each_saved_model_and_its_training_domain(trained, tmp_path):
    """label_chunk, the label_survey_chunk rule's step: the model file and the training domain saved for it."""
    folder, model, train, stars, _ = trained
    domain = tmp_path / "knn_domain.npz"
    SurveyModel("knn", model, folder / "knn.npz", _domain(model, train, stars)).write_domain(domain)
    label_chunk(chunk_path=folder / "chunk.csv.gz", model_paths=[folder / "knn.npz"], domain_paths=[domain],
                methods=["knn"], block_rows=50, threads=1, metadata=None, catalogue_paths=[tmp_path / "knn.parquet"])
    catalogue = read_catalogue([tmp_path / "knn.parquet"])
    assert len(catalogue) > 0 and catalogue["source_id"].is_unique
    assert catalogue_metadata(tmp_path / "knn.parquet")["out_of_distribution_flags"]["computed"]
