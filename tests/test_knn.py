"""The nearest-neighbour floor: whitened principal components, distance weights, calibrated spread."""

import numpy as np
import pytest

from conftest import assert_same_after_reload

from labeltransfer.methods import IncompatibleDataError, NearestNeighbours, make_method
from labeltransfer.evaluation.metrics import robust_scatter
from labeltransfer.data.neighbours import CHUNK, nearest
from labeltransfer.data.spectra import Spectra

NAMES = ("teff", "fe_h")


def _data(n, seed):
    """Spectra that are smooth functions of two labels, with a faint [Fe/H] signature."""
    rng = np.random.default_rng(seed)
    labels = np.column_stack([rng.uniform(4000, 6000, n), rng.normal(-0.3, 0.3, n)])
    grid = np.linspace(0, 1, 60)
    flux = 1 + 0.5 * ((labels[:, :1] - 5000) / 1000) * grid + 0.05 * labels[:, 1:] * np.sin(12 * grid)
    flux += 0.002 * rng.standard_normal(flux.shape)
    return Spectra(flux, np.full_like(flux, 0.002), np.arange(60.0), np.empty((n, 0)), ()), labels


@pytest.fixture(scope="module")
def fitted():
    spectra, labels = _data(3000, 0)
    labels[:100, 1] = np.nan
    val_spectra, val_labels = _data(500, 1)
    return make_method("knn", {"n_neighbours": 5, "n_components": 2}).fit(
        spectra, labels, np.full_like(labels, 1e-3), NAMES,
        validation=(val_spectra, val_labels, np.full_like(val_labels, 1e-3)))


def test_labels_come_from_the_nearest_training_stars(fitted):
    spectra, labels = _data(400, 2)
    predicted, sigma = fitted.predict(spectra)
    # the faint [Fe/H] term counts as much as Teff because the two components are whitened
    assert robust_scatter(predicted[:, 0] - labels[:, 0]) < 40
    assert robust_scatter(predicted[:, 1] - labels[:, 1]) < 0.06
    assert np.all(sigma > 0)
    widths = [robust_scatter(z) for z in ((predicted - labels) / sigma).T]
    assert np.all((np.array(widths) > 0.8) & (np.array(widths) < 1.25)), widths


def test_a_copy_of_a_training_star_gets_its_labels():
    single = NearestNeighbours(n_neighbours=1, n_components=2)
    spectra, labels = _data(3000, 0)
    single.fit(spectra, labels, np.full_like(labels, 1e-3), NAMES)
    predicted, _ = single.predict(spectra.subset(np.array([7])))
    np.testing.assert_allclose(predicted[0], labels[7], rtol=1e-5)


def test_components_the_training_spectra_do_not_span_are_dropped():
    spectra, labels = _data(20, 5)  # 20 stars: centred, they span at most 19 directions
    model = NearestNeighbours(n_neighbours=1, n_components=40).fit(spectra, labels, np.ones_like(labels), NAMES)
    assert model.components_.shape[0] == 19
    predicted, _ = model.predict(spectra.subset(np.array([3])))
    np.testing.assert_allclose(predicted[0], labels[3], rtol=1e-5)


def test_save_load_gives_identical_predictions(fitted, tmp_path):
    spectra, _ = _data(50, 3)
    assert_same_after_reload(fitted, spectra, tmp_path / "knn.npz")


def test_bad_parameters_are_refused():
    spectra, labels = _data(50, 4)
    with pytest.raises(ValueError, match="n_neighbours \\(0\\) and n_components \\(10\\) must be at least 1"):
        NearestNeighbours(n_neighbours=0, n_components=10).fit(spectra, labels, np.ones_like(labels), NAMES)


def test_a_model_file_without_a_state_array_is_refused_naming_it(fitted, tmp_path):
    fitted.save(tmp_path / "knn.npz")
    with np.load(tmp_path / "knn.npz") as archive:
        arrays = {k: archive[k] for k in archive.files if k != "uncertainty_calibration"}
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(IncompatibleDataError, match=r"old\.npz lacks 'uncertainty_calibration' .*retrain it"):
        NearestNeighbours.load(tmp_path / "old.npz")


def test_a_model_of_another_package_version_loads_with_a_warning(fitted, tmp_path, caplog):
    import json

    fitted.save(tmp_path / "knn.npz")
    with np.load(tmp_path / "knn.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(str(arrays["header"]))
    np.savez(tmp_path / "old.npz", **{**arrays, "header": json.dumps({**header, "package_version": "0.0.1"})})
    with caplog.at_level("WARNING"):
        NearestNeighbours.load(tmp_path / "old.npz")
    assert "old.npz was written by labeltransfer 0.0.1, this is" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        NearestNeighbours.load(tmp_path / "knn.npz")
    assert "written by labeltransfer" not in caplog.text


def test_set_params_sets_constructor_arguments_and_refuses_others():
    model = NearestNeighbours(n_neighbours=3).set_params(n_components=7)
    assert model.get_params() == {"n_neighbours": 3, "n_components": 7}
    with pytest.raises(ValueError, match=r"NearestNeighbours has no parameter\(s\) \['threads'\]"):
        model.set_params(threads=4)  # numpy threads by itself


def test_the_run_s_seed_goes_to_no_parameter_since_nothing_is_drawn():
    model = make_method("knn", {"n_neighbours": 3}, seed=42)
    assert model.get_params() == {"n_neighbours": 3, "n_components": 40}


def test_a_model_file_with_parameters_of_an_older_version_is_refused_naming_them(fitted, tmp_path):
    import json

    fitted.save(tmp_path / "knn.npz")
    with np.load(tmp_path / "knn.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(str(arrays["header"]))
    header["params"].update(threads=1, random_state=42)  # what knn took before it dropped the unused two
    np.savez(tmp_path / "old.npz", **{**arrays, "header": json.dumps(header)})
    with pytest.raises(IncompatibleDataError, match=r"old\.npz was written by labeltransfer .* with parameters this "
                                                     r"version's NearestNeighbours does not take .*threads.*retrain"):
        NearestNeighbours.load(tmp_path / "old.npz")


def test_the_neighbour_search_in_chunks_finds_what_a_full_sort_finds():
    rng = np.random.default_rng(3)
    reference, query = rng.standard_normal((500, 12)), rng.standard_normal((3 * CHUNK + 5, 12))
    indices, distances = nearest(reference, query, 4)
    full = np.linalg.norm(query[:, None, :] - reference[None, :, :], axis=2)
    expected = np.argsort(full, axis=1)[:, :4]
    np.testing.assert_array_equal(np.sort(indices, axis=1), np.sort(expected, axis=1))
    np.testing.assert_allclose(np.sort(distances, axis=1), np.take_along_axis(full, expected, axis=1), rtol=1e-6)
