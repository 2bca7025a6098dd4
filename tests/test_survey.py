"""Survey labelling: XP bulk chunks read block by block, converted by the XP basis (checked against
gaiaxpy.calibrate), labelled into Parquet catalogues with provenance; bad input named; the CLI."""

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_FIXTURES, load_bench
from fake_archive import FakeArchive, datalink
from labeltransfer.cli import main as cli
from labeltransfer.io.checksums import ChecksumError
from labeltransfer.io import SurveyFormatError
from labeltransfer.io.gaia_rvs import RVS_WAVELENGTH, read_rvs
from labeltransfer.io.gaia_xp_bulk import XPBulkFormatError, read_xp_blocks
from labeltransfer.io.remote import HTTPStatusError
from labeltransfer.io.xp_library import XP_WAVELENGTH
from labeltransfer.methods import IncompatibleDataError, load_model_file, make_method
from labeltransfer.ood import OODReference
from labeltransfer.pipeline.archives import fetch_survey_file
from labeltransfer.pipeline.survey_summary import SurveyAccumulator, gather_survey
from labeltransfer.sample import build_sample
from labeltransfer.spectra import Spectra
from labeltransfer.survey import SURVEY_FLAGS, SurveyModel, catalogue_metadata, label_file, read_catalogue
from labeltransfer.xp_basis import XPSampler, design_matrix
from library_factory import synthetic_stars
from survey_factory import as_bulk_ecsv, write_bulk_chunk_of, write_xp_continuous, xp_template

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


def test_a_truncated_chunk_and_a_short_array_are_errors_naming_the_file(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", list(range(1, 40)), seed=2)
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv"), tmp_path / "whole.csv.gz")
    data = (tmp_path / "whole.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(XPBulkFormatError, match="cut.csv.gz.*truncated or damaged"):
        list(read_xp_blocks(tmp_path / "cut.csv.gz"))
    lines = gzip.open(tmp_path / "whole.csv.gz", "rt").read().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("3,"))
    lines[row] = lines[row].replace('"[', '"[1.0,', 1)  # 56 BP coefficients for source 3
    with gzip.open(tmp_path / "long.csv.gz", "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    with pytest.raises(XPBulkFormatError, match="long.csv.gz: bp_coefficients of source 3 has 56 values"):
        list(read_xp_blocks(tmp_path / "long.csv.gz"))
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv").drop(columns="rp_coefficient_correlations"), tmp_path / "cols.csv.gz")
    with pytest.raises(XPBulkFormatError, match=r"cols.csv.gz: missing required column\(s\) rp_coefficient_corr"):
        list(read_xp_blocks(tmp_path / "cols.csv.gz"))


@pytest.mark.skipif(not REAL_XP.exists(), reason="../shared/fixtures/real is not here")
def test_a_datalink_csv_reads_as_its_bulk_layout_does(tmp_path):
    real = REAL_XP / "XP_CONTINUOUS_RAW_with_missing_BP.csv"
    as_bulk_ecsv(pd.read_csv(real), tmp_path / "bulk.csv.gz")
    datalink, bulk = next(read_xp_blocks(real)), next(read_xp_blocks(tmp_path / "bulk.csv.gz"))
    assert len(datalink) == 3 and not datalink.has_band()[:, 0].all() and datalink.has_band()[:, 1].all()
    for name in ("source_id", "coefficients", "errors", "correlations"):
        np.testing.assert_array_equal(getattr(datalink, name), getattr(bulk, name))


def test_an_undefined_array_element_is_nan_and_text_is_an_error_naming_the_column(tmp_path):
    write_xp_continuous(tmp_path / "xp.csv", [1, 2, 3], seed=2)
    as_bulk_ecsv(pd.read_csv(tmp_path / "xp.csv"), tmp_path / "whole.csv.gz")
    lines = gzip.open(tmp_path / "whole.csv.gz", "rt").read().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("2,"))
    for name, element in (("undefined", "null"), ("text", "abc")):
        changed = lines.copy()
        changed[row] = re.sub(r'"\[[^,]*,', f'"[{element},', changed[row], count=1)  # source 2's first BP value
        with gzip.open(tmp_path / f"{name}.csv.gz", "wt") as handle:
            handle.write("\n".join(changed) + "\n")
    block = next(read_xp_blocks(tmp_path / "undefined.csv.gz"))
    assert np.isnan(block.coefficients[1, 0, 0]) and np.isfinite(block.coefficients[1, 0, 1:]).all()
    assert np.isfinite(block.coefficients[[0, 2]]).all()
    with pytest.raises(XPBulkFormatError, match="text.csv.gz: bp_coefficients"):
        list(read_xp_blocks(tmp_path / "text.csv.gz"))


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
    sample.spectra.flux, sample.spectra.flux_err = flux / median, sample.spectra.flux_err / median
    train, stars = sample.subset(np.arange(1000)), sample.subset(np.arange(1000, 1150))
    model = make_method("knn", {"n_neighbours": 5, "n_components": 10}).fit(
        train.spectra, train.labels, train.label_err, train.label_names)
    model.provenance_ = {"sample": "s", "split": "p", "seed": 0}
    model.save(folder / "knn.npz")
    ids = np.arange(150, dtype=np.int64) * 2 ** 35 + 7
    write_bulk_chunk_of(folder / "chunk.csv.gz", stars.spectra, ids, xp_template(folder), missing_bp=ids[:3])
    return folder, model, train, stars, ids


def test_a_chunk_is_labelled_into_a_catalogue_with_its_provenance(trained):
    folder, model, train, stars, ids = trained
    survey_model = SurveyModel("knn", model, folder / "knn.npz", OODReference(train.spectra, train.labels, 0),
                               model.misfit_reference(train.spectra))
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


def test_a_saved_flags_reference_labels_as_the_training_set_itself_does(trained):
    folder, knn, train, _, _ = trained
    cannon = make_method("cannon", {"order": 1}).fit(train.spectra, train.labels, train.label_err, train.label_names)
    cannon.provenance_ = knn.provenance_
    cannon.save(folder / "cannon.npz")
    for name in ("knn", "cannon"):
        path, reference = folder / f"{name}.npz", folder / "references" / f"{name}.npz"
        direct = SurveyModel(name, load_model_file(path), path, OODReference(train.spectra, train.labels, 0))
        direct.misfit_reference = direct.model.misfit_reference(train.spectra)
        direct.write_reference(reference)
        saved = SurveyModel(name, load_model_file(path), path).read_reference(reference)
        assert saved.misfit_reference == direct.misfit_reference and (saved.misfit_reference is None) == (name == "knn")
        outputs = [folder / f"{name}_direct.parquet", folder / f"{name}_saved.parquet"]
        label_file(folder / "chunk.csv.gz", [direct, saved], outputs, progress=False)
        table = read_catalogue(outputs[1:])
        pd.testing.assert_frame_equal(read_catalogue(outputs[:1]), table)
    # every bit of the flags is set somewhere, so the comparison means something
    assert all((table["flags"] & bit).any() for bit in (SURVEY_FLAGS["spectrum"], SURVEY_FLAGS["labels"],
                                                        SURVEY_FLAGS["model"]))
    with pytest.raises(IncompatibleDataError, match=r"references/knn.npz holds .* another model than .*cannon.npz"):
        SurveyModel("cannon", cannon, folder / "cannon.npz").read_reference(folder / "references" / "knn.npz")


def test_a_saved_flags_reference_keeps_a_nan_threshold_and_refuses_another_seed_or_settings(trained, monkeypatch):
    folder, knn, train, _, _ = trained
    path = folder / "knn.npz"
    saved = SurveyModel("knn", knn, path, OODReference(train.spectra, train.labels, 0), float("nan"))
    saved.write_reference(folder / "nan.npz")
    assert np.isnan(SurveyModel("knn", knn, path).read_reference(folder / "nan.npz").misfit_reference)
    SurveyModel("knn", knn, path, OODReference(train.spectra, train.labels, 1)).write_reference(folder / "seed1.npz")
    with pytest.raises(IncompatibleDataError, match=r"seed1.npz: .*drawn with seed 1, .*knn.npz was trained with seed 0"):
        SurveyModel("knn", knn, path).read_reference(folder / "seed1.npz")
    np.savez(folder / "other.npz", flux=np.ones(3))
    with pytest.raises(IncompatibleDataError, match=r"other.npz is no flags reference of this version \(no has_misfit"):
        SurveyModel("knn", knn, path).read_reference(folder / "other.npz")
    monkeypatch.setattr("labeltransfer.ood.K", 7)
    with pytest.raises(IncompatibleDataError, match=r"nan.npz: made with other settings of the flags"):
        SurveyModel("knn", knn, path).read_reference(folder / "nan.npz")


def test_a_model_trained_with_other_features_is_refused_naming_its_file(trained):
    folder, _, train, _, _ = trained
    with_colour = train.spectra.select_aux([])
    with_colour.aux, with_colour.aux_names = np.ones((len(train.ids), 1)), ("bp_rp",)
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
    np.savez(folder / "sampled.npz", source_id=ids, flux=stars.spectra.flux, flux_error=stars.spectra.flux_err,
             wavelength=stars.spectra.wavelength)
    cli(["label", "--model", str(folder / "knn.npz"), "--spectra", str(folder / "sampled.npz"), "--out",
         str(folder / "sampled.parquet")])
    np.testing.assert_allclose(read_catalogue([folder / "sampled.parquet"])[["teff", "logg", "fe_h"]],
                               model.predict(stars.spectra)[0], rtol=1e-5)
    with pytest.raises(SystemExit):  # a reference for each model, and not beside --sample
        cli(["label", "--model", str(folder / "knn.npz"), "--model", str(folder / "knn.npz"), "--spectra",
             str(folder / "sampled.npz"), "--out", str(folder), "--reference", str(folder / "knn_reference.npz")])
    assert "--reference: one per --model" in capsys.readouterr().err
    np.savez(folder / "partial.npz", source_id=ids, flux=stars.spectra.flux)
    with pytest.raises(IncompatibleDataError, match="partial.npz: .*missing flux_error, wavelength"):
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
    datalink[["source_id", "ra"]].to_csv(tmp_path / "neither.csv", index=False)
    with pytest.raises(SurveyFormatError, match="neither.csv: neither XP continuous coefficients"):
        label_file(tmp_path / "neither.csv", [SurveyModel("knn", model, tmp_path / "rvs_knn.npz")],
                   [tmp_path / "neither.parquet"], progress=False)


def test_the_command_line_labels_a_list_of_source_ids_fetched_from_datalink(trained, tmp_path):
    folder, model = trained[:2]
    write_xp_continuous(tmp_path / "xp.csv", [11, 12, 13, 14], no_bp=[13], seed=4)
    (tmp_path / "ids.txt").write_text("# my stars\n11\n12\n13\n14\n99\n")  # 99 has no spectrum
    with FakeArchive(tmp_path / "served") as archive:
        archive.services["data-server/data"] = datalink({"XP_CONTINUOUS": pd.read_csv(tmp_path / "xp.csv")})
        cli(["label", "--model", str(folder / "knn.npz"), "--source-ids", str(tmp_path / "ids.txt"), "--out",
             str(tmp_path / "mine.parquet"), "--data-url", f"{archive.url}/data-server/data"])
    label_file(tmp_path / "xp.csv", [SurveyModel("knn", model, folder / "knn.npz")], [tmp_path / "direct.parquet"],
               progress=False)
    fetched = read_catalogue([tmp_path / "mine.parquet"])
    pd.testing.assert_frame_equal(fetched, read_catalogue([tmp_path / "direct.parquet"]))
    assert list(fetched["source_id"]) == [11, 12, 13, 14] and fetched["flags"].tolist() == [0, 0, 8, 0]
    assert catalogue_metadata(tmp_path / "mine.parquet")["survey_file"].endswith(".zip")  # the reply, read as it is
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
        table.to_parquet(path)
        chunks.append(path)
    gather_survey(catalogue_paths=chunks, labels=LABELS, method="knn", summary_path=tmp_path / "summary.csv",
                  figure_path=tmp_path / "survey.png")
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("quantity")["value"]
    assert summary["n_sources"] == 1000 and summary["n_chunks"] == 2 and summary["fe_h_missing"] == 20
    assert summary["flagged_any_fraction"] == pytest.approx(0.1) and summary["flagged_missing_band_fraction"] == 0.1
    assert summary["flagged_spectrum_fraction"] == pytest.approx(0.1) and summary["flagged_labels_fraction"] == 0
    assert abs(summary["fe_h_p50"] + 0.3) < 0.01 and 4000 < summary["teff_p05"] < summary["teff_p95"] < 6000
    accumulator = SurveyAccumulator({k: v["range"] for k, v in LABELS.items()})
    accumulator.add(pd.read_parquet(chunks[0]))
    assert accumulator.sky_count.sum() == 490 and (tmp_path / "survey.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A task folder as a finished run leaves it: sample, split and a flux-only model trained on them."""
    from labeltransfer.split import read_split, split_fingerprint, split_sample, write_split

    task = tmp_path_factory.mktemp("results") / "tiny"
    (task / "data").mkdir(parents=True)
    (task / "models").mkdir()
    sample = build_sample(synthetic_stars(600, seed=8), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, [])
    sample.save(task / "data" / "sample.npz")
    write_split(split_sample(sample.ids, {"train": 0.7, "validation": 0.15, "test": 0.15}, 42),
                task / "data" / "split.csv")
    rows = read_split(task / "data" / "split.csv", sample.ids)
    train = sample.subset(rows["train"])
    model = make_method("knn", {"n_components": 5}).fit(train.spectra.select_aux([]), train.labels, train.label_err,
                                                         train.label_names)
    model.provenance_ = {"sample": sample.fingerprint(), "split": split_fingerprint(sample.ids, rows), "seed": 42}
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
