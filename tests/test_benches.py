"""The benches that compare the accuracy of variants never read a test star.

Each bench runs on a small prepared sample while every star the benches take out of the
sample (``LabelledSample.subset``) is recorded, and the split they read holds no test rows (a
bench that asks for them fails); the test stars must not be among those taken. The test split
is scored once, by the workflow.
"""

import json

import numpy as np
import pytest
import yaml

from conftest import load_bench
from labeltransfer.methods import make_method
from labeltransfer.data.sample import LabelledSample, build_sample
from labeltransfer.data.selection import selection_rows
from labeltransfer.data.split import freeze_split, read_split, split_sample
from library_factory import synthetic_stars

LABELS = {"teff": {"range": [3000, 7000], "max_err": 300, "err_floor": 10, "required": True},
          "logg": {"range": [-0.5, 5.5], "max_err": 0.3, "err_floor": 0.02, "required": True},
          "fe_h": {"range": [-2.5, 0.7], "max_err": 0.2, "err_floor": 0.01, "required": False}}
COLOURS = ["bp_rp", "g_h"]
METHODS = {"mlp": {"type": "mlp", "feature_set": "flux_colours_parallax",
                   "params": {"flux_components": 8, "hidden_sizes": [16], "epochs": 2, "patience": 2, "n_members": 2}},
           "knn": {"type": "knn", "feature_set": "flux", "params": {"n_neighbours": 3, "n_components": 5}},
           "cannon": {"type": "cannon", "feature_set": "flux", "params": {"order": 1}},
           "payne": {"type": "payne", "feature_set": "flux",
                     "params": {"hidden_sizes": [16], "epochs": 3, "patience": 2, "restarts": 2, "prior_components": 2}}}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """results/tiny/data/ with a 400-star sample and its split, a config, and the test IDs."""
    sample = build_sample(synthetic_stars(400, seed=4), LABELS, {"min_snr": 5, "max_masked_fraction": 0.1}, COLOURS)
    data = tmp_path / "results" / "tiny" / "data"
    data.mkdir(parents=True)
    split = split_sample(sample.apogee_id, {"train": 0.7, "validation": 0.15, "test": 0.15}, 3)
    freeze_split(sample, split, data / "sample.npz", data / "split.csv")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"colours": COLOURS, "seed": 3, "method_settings": METHODS,
                                                          "methods": ["knn"], "snr_bins": [5, 50, float("inf")]}))
    monkeypatch.chdir(tmp_path)
    test_ids = set(split.loc[split["split"] == "test", "apogee_id"])
    return tmp_path, test_ids


@pytest.fixture
def taken(monkeypatch):
    """Every star ID any code takes out of a LabelledSample, recorded; and the split as the benches
    read it has no test rows, so that a bench asking for them fails."""
    import labeltransfer.data.selection
    import labeltransfer.data.split

    ids, subset, read = set(), LabelledSample.subset, labeltransfer.data.split.read_split

    def recording(self, rows):
        ids.update(np.atleast_1d(self.apogee_id[rows]).tolist())
        return subset(self, rows)

    def without_test(path, sample):
        return {name: rows for name, rows in read(path, sample).items() if name != "test"}
    monkeypatch.setattr(LabelledSample, "subset", recording)
    monkeypatch.setattr(labeltransfer.data.split, "read_split", without_test)
    monkeypatch.setattr(labeltransfer.data.selection, "read_split", without_test)
    return ids



def test_selection_rows_hold_out_part_of_training_and_score_on_validation(workdir):
    tmp_path, test_ids = workdir
    sample = LabelledSample.load("results/tiny/data/sample.npz")
    rows = selection_rows("results/tiny/data/split.csv", sample, seed=3)
    split = read_split("results/tiny/data/split.csv", sample)
    np.testing.assert_array_equal(np.sort(np.r_[rows["fit"], rows["stop"]]), split["train"])
    np.testing.assert_array_equal(rows["score"], split["validation"])
    assert len(rows["stop"]) == round(0.1 * len(split["train"]))
    assert not test_ids & set(sample.apogee_id[np.r_[rows["fit"], rows["stop"], rows["score"]]])


@pytest.mark.parametrize("method, variant", [("mlp", '{"random_state": 1}'), ("knn", '{"n_neighbours": 3}')])
def test_method_variants_bench_never_reads_a_test_star(workdir, taken, capsys, method, variant):
    _, test_ids = workdir
    load_bench("method_variants").main([method, "{}", variant, "--config", "config.yaml", "--task", "tiny",
                                    "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert len(lines) == 3 and all(len(line["scatter"]) == len(LABELS) for line in lines[:2])
    assert len(lines[2]["minus_first"]) == len(LABELS)  # the second variant against the first, per label
    assert taken and not taken & test_ids


def test_method_variants_bench_compares_two_methods_on_the_same_stars(workdir, taken, capsys):
    """A variant's "method" names another method of the config; --all-pairs adds every later variant minus
    every earlier one."""
    _, test_ids = workdir
    load_bench("method_variants").main(["knn", "{}", '{"method": "cannon"}', '{"method": "cannon", "order": 2}',
                                        "--all-pairs", "--config", "config.yaml", "--task", "tiny", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert [line["variant"] for line in lines[:3]] == [{}, {"method": "cannon"}, {"method": "cannon", "order": 2}]
    assert lines[0]["scatter"] != lines[1]["scatter"]  # the kNN, then the Cannon
    assert [("minus_first" in line, "minus_variant" in line) for line in lines[3:]] == [(True, False), (True, False),
                                                                                      (False, True)]
    assert lines[5]["minus_variant"] == {"method": "cannon"} and len(lines[5]["difference"]) == len(LABELS)
    assert lines[0]["stars_per_second"] > 0
    assert taken and not taken & test_ids


def test_neural_methods_bench_never_reads_a_test_star(workdir, taken, capsys):
    tmp_path, test_ids = workdir
    sample = LabelledSample.load("results/tiny/data/sample.npz")
    rows = read_split("results/tiny/data/split.csv", sample)
    spectra = sample.spectra.select_aux(["bp_rp", "g_h", "parallax", "reduced_parallax_h"])
    train, validation = rows["train"], rows["validation"]
    model = make_method("mlp", METHODS["mlp"]["params"])
    model.fit(spectra.subset(train), sample.labels[train], sample.label_err[train], sample.label_names,
              validation=(spectra.subset(validation), sample.labels[validation], sample.label_err[validation]))
    model.save(tmp_path / "mlp.npz")
    load_bench("neural_methods").main(["results/tiny/data/sample.npz", "results/tiny/data/split.csv",
                                   f"mlp={tmp_path / 'mlp.npz'}", "--n-stars", "200", "--repeat", "1",
                                   "--threads", "1"])
    assert "2 members: scatter" in capsys.readouterr().out
    assert taken and not taken & test_ids


def test_cannon_bench_never_reads_a_test_star(workdir, taken, capsys, monkeypatch):
    _, test_ids = workdir
    bench = load_bench("cannon_test_step")
    # the PyPI package TheCannon (the bench extra) stands in as our own linear Cannon here
    monkeypatch.setattr(bench, "_thecannon_run", lambda train, test, names: lambda: make_method(
        "cannon", {"order": 1}).fit(train.spectra.select_aux([]), train.labels, train.label_err,
                                                        names).predict(test.spectra.select_aux([]))[0])
    monkeypatch.setattr("sys.argv", ["cannon_test_step", "results/tiny/data/sample.npz", "results/tiny/data/split.csv",
                                     "--repeat", "1"])
    bench.main()
    assert "TheCannon 0.7.3: robust scatter teff" in capsys.readouterr().out
    assert taken and not taken & test_ids


def _save_trained(tmp_path, name, method_type, params):
    """A model fitted on the tiny sample's training split (validated on its validation split),
    saved where the benches read a run's models."""
    sample = LabelledSample.load("results/tiny/data/sample.npz")
    rows = read_split("results/tiny/data/split.csv", sample)
    train, validation = rows["train"], rows["validation"]
    spectra = sample.spectra.select_aux([])
    model = make_method(method_type, params)
    model.fit(spectra.subset(train), sample.labels[train], sample.label_err[train], sample.label_names,
              validation=(spectra.subset(validation), sample.labels[validation], sample.label_err[validation]))
    (tmp_path / "results" / "tiny" / "models").mkdir(exist_ok=True)
    model.save(tmp_path / "results" / "tiny" / "models" / f"{name}.npz")


def test_calibration_bench_never_reads_a_test_star(workdir, taken, capsys):
    tmp_path, test_ids = workdir
    _save_trained(tmp_path, "knn", "knn", METHODS["knn"]["params"])
    taken.clear()
    load_bench("calibration_choices").main(["results/tiny", "--config", "config.yaml", "--threads", "1"])
    output = capsys.readouterr().out
    assert all(f"knn {rule:>6}:" in output for rule in ("core", "scale", "power", "snr"))
    assert taken and not taken & test_ids


def test_cannon_uncertainty_bench_never_reads_a_test_star(workdir, taken, capsys):
    tmp_path, test_ids = workdir
    _save_trained(tmp_path, "cannon", "cannon", {**METHODS["cannon"]["params"],
                                                 "regimes": {"label": "teff", "edges": [5000], "overlap": 200}})
    taken.clear()
    load_bench("cannon_uncertainty").main(["results/tiny", "--config", "config.yaml", "--stars", "50"])
    output = capsys.readouterr().out
    assert "cannon: 50 validation stars" in output
    assert all(f"{rule}: " in output for rule in ("formal", "per regime", "mixture T=10", "spread", "guess"))
    assert "Spearman rank correlation" in output
    assert taken and not taken & test_ids


def test_ladder_noise_bench_never_reads_a_test_star(workdir, taken, capsys):
    tmp_path, test_ids = workdir
    _save_trained(tmp_path, "knn", "knn", METHODS["knn"]["params"])
    taken.clear()
    load_bench("ladder_noise").main(["results/tiny", "--config", "config.yaml", "--stars", "50", "--levels", "20",
                                 "--threads", "1"])
    assert "knn S/N 20" in capsys.readouterr().out
    assert taken and not taken & test_ids


def test_band_retraining_bench_never_reads_a_test_star(workdir, taken, capsys, monkeypatch):
    import labeltransfer.pipeline.jobs

    tmp_path, test_ids = workdir
    _save_trained(tmp_path, "knn", "knn", METHODS["knn"]["params"])
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["wavelength_subsets"] = {"bands": {"blue": [336, 600], "red": [602, 1020]}}
    (tmp_path / "bands.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setattr(labeltransfer.pipeline.jobs, "read_split", labeltransfer.data.split.read_split)  # no test rows
    taken.clear()
    load_bench("band_retraining").main(["results/tiny/data/sample.npz", "results/tiny/data/split.csv", "--config",
                                    "bands.yaml", "--methods", "knn", "--all-pixel-models",
                                    "knn=results/tiny/models/knn.npz", "--out", "bands.json"])
    assert "knn red teff:" in capsys.readouterr().out
    report = json.loads((tmp_path / "bands.json").read_text())
    assert set(report["knn"]) == {"all", "blue", "red"} and report["knn"]["all"]["teff"]["minus_all"] == 0
    assert taken and not taken & test_ids


def test_gpu_check_bench_runs_the_training_step_and_never_reads_a_test_star(workdir, taken, capsys, monkeypatch):
    import labeltransfer.pipeline.jobs

    tmp_path, test_ids = workdir
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["method_settings"]["mlp"]["feature_set"] = "flux"
    (tmp_path / "gpu.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setattr(labeltransfer.pipeline.jobs, "read_split", labeltransfer.data.split.read_split)  # no test rows
    load_bench("gpu_check").main(["results/tiny/data/sample.npz", "results/tiny/data/split.csv", "--config", "gpu.yaml",
                              "--methods", "mlp", "--n-stars", "500", "--out", "gpu_check"])
    output = capsys.readouterr().out
    assert "mlp: trained on cpu" in output and "prediction: cpu" in output
    assert json.loads((tmp_path / "gpu_check" / "gpu_check.json").read_text())["mlp"]["device"] == "cpu"
    assert taken and not taken & test_ids


def test_labelling_speed_bench_labels_validation_stars_only_and_holds_its_target(workdir, taken, capsys):
    tmp_path, test_ids = workdir
    _save_trained(tmp_path, "knn", "knn", METHODS["knn"]["params"])
    bench = load_bench("labelling_speed")
    taken.clear()
    assert bench.label_once(json.dumps(["knn", METHODS["knn"]]), "tiny", COLOURS, 100, 1) > 0
    assert taken and not taken & test_ids
    arguments = ["knn", "--config", "config.yaml", "--task", "tiny", "--stars", "100", "--repeats", "1", "--threads", "1"]
    assert bench.main(arguments) == 0
    assert bench.main([*arguments, "--target", "1e12"]) == 1
    output = capsys.readouterr().out
    assert "knn                  median" in output and "below the target of 1000000000000" in output


def test_payne_fit_choices_bench_fits_validation_stars_only_and_pairs_the_variants(workdir, taken, capsys):
    tmp_path, test_ids = workdir
    _save_trained(tmp_path, "payne", "payne", METHODS["payne"]["params"])
    taken.clear()
    load_bench("payne_fit_choices").main(['{}', '{"prior": "none", "misfit_modes": 2}', "--config", "config.yaml",
                                          "--task", "tiny", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["variant"] for line in lines] == [{}, {"prior": "none", "misfit_modes": 2}, {"prior": "none",
                                                                                             "misfit_modes": 2}]
    assert len(lines[0]["scatter"]) == 3 and len(lines[2]["minus_first"]) == 3
    assert all(low <= high for _, low, high in lines[2]["minus_first"])
    assert taken and not taken & test_ids
    with pytest.raises(SystemExit, match="no fit-time settings"):
        load_bench("payne_fit_choices").main(['{"epochs": 9}', "--config", "config.yaml", "--task", "tiny"])
