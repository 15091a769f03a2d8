"""Model files: JSON round trip, deterministic bytes, and refusing damaged or foreign files."""

import json
import os

import numpy as np
import pytest

from core.errors import SoilMetalError
from core.model_file import Model, load_model, save_model
from core.science.network import n_params

NAMES = ["NDVI", "B2", "SLOPE"]


def make_model(members=2, log_target=False, seed=0):
    rng = np.random.default_rng(seed)
    return Model(factor_names=NAMES, x_min=[-0.1, 0.01, 0.0], x_max=[0.8, 0.2, 30.0],
                 y_min=12.5, y_max=140.0, hidden=4, log_target=log_target,
                 members=[rng.normal(0, 0.8, n_params(3, 4)) for _ in range(members)],
                 metal="Cu", seed=seed, settings={"hidden": 4, "ensemble": members},
                 training_metrics={"RMSE": 3.5, "R2": float("nan"), "N": 1},
                 provenance={"beta": [0.7, 0.8]}, curves=[{"lm_mse": [0.3, 0.1]}])


def factor_values(count=50, seed=1):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-0.1, 0.8, count), rng.uniform(0.01, 0.2, count),
                            rng.uniform(0, 30, count)])


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "cu_model.json"
    save_model(make_model(), path)
    return path


def test_round_trip_predicts_identically(saved):
    model = make_model()
    loaded = load_model(saved)
    x = factor_values()
    for got, want in zip(loaded.predict(x), model.predict(x)):
        np.testing.assert_array_equal(got, want)
    assert loaded.factor_names == NAMES and loaded.metal == "Cu" and loaded.hidden == 4
    assert loaded.factor_ranges == {"NDVI": [-0.1, 0.8], "B2": [0.01, 0.2], "SLOPE": [0.0, 30.0]}
    assert loaded.provenance == {"beta": [0.7, 0.8]}
    assert loaded.training_metrics["R2"] is None       # NaN is stored as null
    for got, want in zip(loaded.members, model.members):
        np.testing.assert_array_equal(got, want)


def test_file_is_sorted_marked_json_and_deterministic(tmp_path, saved):
    text = saved.read_text()
    content = json.loads(text)
    assert content["format"] == "soilmetal-model" and content["format_version"] == 2
    assert text == json.dumps(content, sort_keys=True, indent=1) + "\n"
    save_model(make_model(), tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == saved.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["again.json", "cu_model.json"]   # no temp files


def test_log_target_model_round_trip(tmp_path):
    model = make_model(log_target=True)
    save_model(model, tmp_path / "log.json")
    x = factor_values()
    np.testing.assert_array_equal(load_model(tmp_path / "log.json").predict(x)[0],
                                  model.predict(x)[0])


def test_predict_accepts_float32_and_gives_nan_for_nan_rows():
    model = make_model()
    x = factor_values()
    x[4, 1] = np.nan
    mean64, std64 = model.predict(x)
    mean32, std32 = model.predict(x.astype(np.float32))
    np.testing.assert_allclose(mean32, mean64, rtol=1e-5, equal_nan=True)
    assert np.isnan(mean64[4]) and np.isnan(std64[4])
    assert np.isfinite(np.delete(mean64, 4)).all()
    with pytest.raises(ValueError):
        model.predict(x[:, :2])


def test_outside_training_range():
    model = make_model()
    x = np.array([[0.1, 0.1, 10.0], [0.9, 0.1, 10.0], [0.1, 0.1, -1.0]])
    np.testing.assert_array_equal(model.outside_training_range(x), [False, True, True])


def edit(path, change):
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def refused(path):
    with pytest.raises(SoilMetalError) as info:
        load_model(path)
    return str(info.value)


def test_truncated_file_is_refused(saved):
    saved.write_bytes(saved.read_bytes()[:300])
    message = refused(saved)
    assert "JSON is broken" in message and "truncated" in message and str(saved) in message


def test_wrong_or_missing_format_marker_is_refused(saved):
    edit(saved, lambda content: content.update(format="qgis-style"))
    assert "'format' is 'qgis-style'" in refused(saved)
    edit(saved, lambda content: content.pop("format"))
    message = refused(saved)
    assert "is not a soilmetal model file (missing 'format')" in message
    assert "Train GA-BP model" in message


def test_foreign_json_and_binary_files_are_refused(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    assert "missing 'format'" in refused(tmp_path / "list.json")
    (tmp_path / "image.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert "not a JSON text file" in refused(tmp_path / "image.json")
    assert "Cannot read" in refused(tmp_path / "absent.json")


def test_edited_shape_is_refused(saved):
    edit(saved, lambda content: content["members"][1].pop())
    message = refused(saved)
    assert "member 1 has 20 weights" in message and "expected 21" in message
    edit(saved, lambda content: content["members"][1].append(0.5))
    edit(saved, lambda content: content["x_min"].pop())
    assert "'x_min' has 2 values, expected 3" in refused(saved)


def test_non_finite_weight_is_refused(saved):
    text = saved.read_text()
    content = json.loads(text)
    first = json.dumps(content["members"][0][3])
    assert text.count(first) == 1
    saved.write_text(text.replace(first, "NaN"))
    message = refused(saved)
    assert "members[0]" in message and "not a finite number" in message


def test_missing_keys_newer_version_and_bad_types_are_refused(saved):
    original = saved.read_text()
    edit(saved, lambda content: content.pop("members"))
    assert "missing 'members'" in refused(saved)
    saved.write_text(original)
    edit(saved, lambda content: content.update(format_version=3))
    assert "newer soilmetal" in refused(saved)
    saved.write_text(original)
    edit(saved, lambda content: content.update(log_target="yes"))
    assert "'log_target' must be true or false" in refused(saved)
    saved.write_text(original)
    edit(saved, lambda content: content.update(factor_names=["NDVI", "NDVI", "SLOPE"]))
    assert "twice" in refused(saved)


def test_unwritable_destination_is_a_user_error(tmp_path):
    with pytest.raises(SoilMetalError, match="Cannot write"):
        save_model(make_model(), tmp_path / "missing_folder" / "m.json")
    assert os.listdir(tmp_path) == []


def test_sensor_is_kept_and_a_wrong_type_is_refused(tmp_path):
    from core.sensors import sensor_mismatch
    model = Model(factor_names=["A"], x_min=[0.0], x_max=[1.0], y_min=0.0, y_max=1.0,
                  members=[np.zeros(n_params(1, 2))], hidden=2, sensor="Sentinel-2B MSI")
    path = tmp_path / "m.json"
    save_model(model, path)
    assert load_model(path).sensor == "Sentinel-2B MSI"
    content = json.loads(path.read_text())
    content["sensor"] = 8
    path.write_text(json.dumps(content))
    with pytest.raises(SoilMetalError, match="'sensor' must be a str"):
        load_model(path)
    assert sensor_mismatch("Landsat 8 OLI", "Landsat 9 OLI-2") is None
    assert sensor_mismatch("", "Sentinel-2A MSI") is None
    assert "Sentinel-2A MSI" in sensor_mismatch("Landsat 8 OLI", "Sentinel-2A MSI + Landsat 8 OLI")
