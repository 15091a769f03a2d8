"""predictcontent through processing.run: the map equals the model, outputs and errors."""

import json
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingContext, QgsProcessingFeedback, QgsProject

from soilmetal.core.model_file import Model, save_model
from soilmetal.core.science.network import n_params

from rasters import write_raster


@pytest.fixture
def model_and_factors(tmp_path):
    rng = np.random.default_rng(3)
    ndvi = rng.uniform(-0.2, 0.9, (40, 50))
    slope = rng.uniform(0, 40, (40, 50))
    ndvi[0, 0] = -9999.0
    factors = write_raster(tmp_path / "factors.tif", [ndvi, slope], ["NDVI", "SLOPE"])
    thetas = [rng.normal(0, 0.5, n_params(2, 4)) for _ in range(3)]
    model = Model(factor_names=["SLOPE", "NDVI"], x_min=[0, -0.2], x_max=[40, 0.9], y_min=15, y_max=95,
                  members=thetas, hidden=4, metal="Pb")
    path = tmp_path / "model.json"
    save_model(model, str(path))
    return str(path), factors, model, np.stack([slope, ndvi])


def test_map_values_uncertainty_and_counts(run_alg, tmp_path, model_and_factors):
    model_path, factors, model, stack = model_and_factors
    result = run_alg("predictcontent", {"MODEL": model_path, "FACTORS": [factors],
                                        "OUTPUT": str(tmp_path / "pb.tif"),
                                        "OUTPUT_UNCERTAINTY": str(tmp_path / "pb_std.tif")})
    assert set(result) >= {"OUTPUT", "OUTPUT_UNCERTAINTY", "PIXELS_MAPPED", "EXTRAPOLATED_FRACTION"}
    ds = gdal.Open(result["OUTPUT"])
    band = ds.GetRasterBand(1)
    assert band.GetDescription() == "Pb (mg/kg)"
    values = band.ReadAsArray().astype(float)
    expected = model.predict(stack.reshape(2, -1).T)[0].reshape(40, 50)
    assert values[0, 0] == band.GetNoDataValue()
    np.testing.assert_allclose(values.ravel()[1:], expected.ravel()[1:], rtol=1e-5)
    assert result["PIXELS_MAPPED"] == 40 * 50 - 1
    assert os.path.exists(result["OUTPUT_UNCERTAINTY"])


def test_output_is_styled_when_loaded(tmp_path, model_and_factors):
    import processing
    model_path, factors, _, _ = model_and_factors
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.runAndLoadResults(
        "soilmetal:predictcontent", {"MODEL": model_path, "FACTORS": [factors], "OUTPUT": str(tmp_path / "s.tif")},
        context=context, feedback=QgsProcessingFeedback())
    layers = [layer for layer in QgsProject.instance().mapLayers().values() if layer.source() == result["OUTPUT"]]
    assert layers, "the content map was not loaded"
    assert layers[0].renderer().type() == "singlebandpseudocolor"
    assert layers[0].name() == "Pb content (mg/kg)"
    QgsProject.instance().removeAllMapLayers()


def test_missing_factor_names_the_fix(run_alg, tmp_path, model_and_factors):
    model_path, _, _, _ = model_and_factors
    other = write_raster(tmp_path / "other.tif", [np.ones((5, 5))], ["EVI"])
    with pytest.raises(QgsProcessingException, match="SLOPE, NDVI not found.*Available factors: EVI"):
        run_alg("predictcontent", {"MODEL": model_path, "FACTORS": [other], "OUTPUT": str(tmp_path / "x.tif")})
    assert not os.path.exists(tmp_path / "x.tif")


def test_a_file_that_is_not_a_model_is_refused(run_alg, tmp_path, model_and_factors):
    _, factors, _, _ = model_and_factors
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(QgsProcessingException, match="not a soilmetal model"):
        run_alg("predictcontent", {"MODEL": str(bogus), "FACTORS": [factors], "OUTPUT": str(tmp_path / "x.tif")})


def test_unwritable_output_path_is_explained(run_alg, tmp_path, model_and_factors):
    model_path, factors, _, _ = model_and_factors
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    with pytest.raises(QgsProcessingException, match="Cannot create the output folder"):
        run_alg("predictcontent", {"MODEL": model_path, "FACTORS": [factors],
                                   "OUTPUT": str(blocker / "maps" / "x.tif")})


@pytest.mark.parametrize("low, high, expected", [
    (37.16, 88.70, [30, 40, 50, 60, 70, 80, 90]),
    (0.12, 0.93, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (5.0, 6.0, [5.0, 5.2, 5.4, 5.6, 5.8, 6.0]),
])
def test_legend_classes_have_round_breaks_covering_the_range(low, high, expected):
    from soilmetal.styles.rasters import nice_breaks
    breaks = nice_breaks(low, high)
    np.testing.assert_allclose(breaks, expected)
    assert breaks[0] <= low and breaks[-1] >= high


def test_model_without_cv_asked_for_intervals_names_the_fix(run_alg, tmp_path, model_and_factors):
    model_path, factors, _, _ = model_and_factors
    for extra in ({"OUTPUT_LOWER": str(tmp_path / "lo.tif")}, {"OUTPUT_AOA": str(tmp_path / "di.tif")},
                  {"AOA_MASK": True}, {"THRESHOLD": 50, "OUTPUT_EXCEEDANCE": str(tmp_path / "p.tif")}):
        with pytest.raises(QgsProcessingException, match="(?i)retrain"):
            run_alg("predictcontent", {"MODEL": model_path, "FACTORS": [factors],
                                       "OUTPUT": str(tmp_path / "x.tif"), **extra})
    assert sorted(os.listdir(tmp_path)) == ["factors.tif", "model.json"]


@pytest.mark.parametrize("name, value, message", [
    ("COVERAGE", 1.5, "COVERAGE must be a share between 0 and 1"),
    ("COVERAGE", 0, "COVERAGE must be a share between 0 and 1"),
    ("COVERAGE", 0.9999, "COVERAGE must be between 0.01 and 0.999"),
    ("THRESHOLD", "abc", "THRESHOLD must be a content in mg/kg"),
    ("THRESHOLD", -3, "THRESHOLD must be a content in mg/kg"),
])
def test_bad_coverage_or_threshold_is_refused_with_the_range(run_alg, tmp_path, model_and_factors,
                                                             name, value, message):
    model_path, factors, _, _ = model_and_factors
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("predictcontent", {"MODEL": model_path, "FACTORS": [factors],
                                   "OUTPUT": str(tmp_path / "x.tif"), name: value})


def test_range_of_coverage_is_declared(plugin):
    from qgis.core import QgsApplication
    alg = QgsApplication.processingRegistry().algorithmById("soilmetal:predictcontent")
    coverage = alg.parameterDefinition("COVERAGE")
    assert 0 < coverage.minimum() < coverage.maximum() < 1 and coverage.defaultValue() == 0.9
    assert alg.parameterDefinition("THRESHOLD").minimum() == 0
    assert alg.parameterDefinition("EXTRAPOLATION").defaultValue() == 2


def test_spread_layer_says_it_is_not_an_error_bar(tmp_path, model_and_factors):
    import processing
    model_path, factors, _, _ = model_and_factors
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.runAndLoadResults(
        "soilmetal:predictcontent", {"MODEL": model_path, "FACTORS": [factors], "OUTPUT": str(tmp_path / "c.tif"),
                                     "OUTPUT_UNCERTAINTY": str(tmp_path / "s.tif")},
        context=context, feedback=QgsProcessingFeedback())
    layers = [layer for layer in QgsProject.instance().mapLayers().values()
              if layer.source() == result["OUTPUT_UNCERTAINTY"]]
    assert layers and "ensemble spread (model disagreement, not an error bar" in layers[0].name()
    QgsProject.instance().removeAllMapLayers()


def model_with_cv(model, rng, n=30):
    """A copy of model carrying samples and CV results as traingabp writes them (SCHEMA)."""
    from soilmetal.core.model_file import model_from_dict, model_to_bytes
    factors = np.column_stack([rng.uniform(0, 40, n), rng.uniform(-0.2, 0.9, n)])
    observed = model.predict(factors)[0] + rng.normal(0, 5, n)
    prediction = observed - rng.normal(0, 5, n)
    model.samples = {"crs": "", "x": list(rng.uniform(0, 100, n)), "y": list(rng.uniform(0, 100, n)),
                     "id": [f"s{i}" for i in range(n)], "factors": factors.tolist(),
                     "observed": observed.tolist(), "role": ["train"] * n}
    model.cv = {"scheme": "spatial", "folds": 3, "fold": [i % 3 for i in range(n)],
                "prediction": prediction.tolist(), "residual": (observed - prediction).tolist(),
                "metrics": {}, "mean_metrics": {}, "mlr_metrics": {}}
    return model_from_dict(json.loads(model_to_bytes(model)))


def test_intervals_aoa_and_exceedance_outputs(run_alg, tmp_path, model_and_factors):
    _, factors, model, stack = model_and_factors
    model = model_with_cv(model, np.random.default_rng(8))
    path = tmp_path / "cv_model.json"
    save_model(model, str(path))
    outputs = {name: str(tmp_path / f"{name.lower()}.tif") for name in
               ("OUTPUT", "OUTPUT_LOWER", "OUTPUT_UPPER", "OUTPUT_AOA", "OUTPUT_EXCEEDANCE", "OUTPUT_UNCERTAINTY")}
    result = run_alg("predictcontent", {"MODEL": str(path), "FACTORS": [factors], "COVERAGE": 0.8,
                                        "THRESHOLD": 55, **outputs})
    values = {}
    for name, file in outputs.items():
        assert result[name] == file
        ds = gdal.Open(file)
        band = ds.GetRasterBand(1)
        values[name] = band.ReadAsArray().astype(float).ravel()
        assert values[name][0] == band.GetNoDataValue(), name
        if name == "OUTPUT_AOA":
            threshold = float(band.GetMetadata()["AOA_THRESHOLD"])
    centre = model.predict(stack.reshape(2, -1).T)[0][1:]
    r = np.sort(model.cv["residual"])
    np.testing.assert_allclose(values["OUTPUT_LOWER"][1:], np.maximum(centre + r[int(np.floor(31 * 0.1)) - 1], 0),
                               rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(values["OUTPUT_UPPER"][1:], centre + r[int(np.ceil(31 * 0.9)) - 1], rtol=1e-4, atol=1e-3)
    p = values["OUTPUT_EXCEEDANCE"][1:]
    expected = np.array([((r >= 55 - c).sum() + 0.5) / 31 for c in centre])
    assert (np.abs(p - expected) < 1e-6).mean() > 0.99 and np.abs(p - expected).max() <= 1 / 31 + 1e-6
    assert result["AOA_SHARE"] == pytest.approx(np.mean(values["OUTPUT_AOA"][1:] <= threshold), abs=1e-6)
    assert result["PIXELS_MAPPED"] == 40 * 50 - 1

    masked = run_alg("predictcontent", {"MODEL": str(path), "FACTORS": [factors], "AOA_MASK": True,
                                        "OUTPUT": str(tmp_path / "masked.tif")})
    ds = gdal.Open(masked["OUTPUT"])
    band = ds.GetRasterBand(1)
    written = (band.ReadAsArray() != band.GetNoDataValue()).sum()
    assert masked["PIXELS_MAPPED"] == written == int(np.sum(values["OUTPUT_AOA"][1:] <= threshold))


def test_residual_kriging_adds_the_kriged_surface(run_alg, tmp_path, model_and_factors):
    from soilmetal.core.workflows.kriging_record import kriging_record
    from soilmetal.core.science.variogram import VariogramModel
    from rasters import wkt
    _, factors, model, stack = model_and_factors
    rng = np.random.default_rng(12)
    n = 80
    x, y = rng.uniform(300000, 301500, n), rng.uniform(3728800, 3730000, n)
    h = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    field = np.linalg.cholesky(VariogramModel("exponential", 0, 100.0, 300.0).covariance(h)
                               + 1e-9 * np.eye(n)) @ rng.normal(size=n)
    model = model_with_cv(model, rng, n)
    model.samples["x"], model.samples["y"], model.samples["crs"] = list(x), list(y), wkt(32649)
    model.cv["residual"] = list(field)
    model.cv["prediction"] = list(np.asarray(model.samples["observed"]) - field)
    model.cv["metrics"] = {"RMSE": float(np.sqrt(np.mean(field ** 2)))}
    model.cv["kriging"] = kriging_record(model)[0]
    assert model.cv["kriging"]["structure"]
    path = tmp_path / "rk_model.json"
    save_model(model, str(path))
    plain = run_alg("predictcontent", {"MODEL": str(path), "FACTORS": [factors],
                                       "OUTPUT": str(tmp_path / "plain.tif")})
    kriged = run_alg("predictcontent", {"MODEL": str(path), "FACTORS": [factors], "RESIDUAL_KRIGING": True,
                                        "KRIGING_NEIGHBOURS": 8, "OUTPUT": str(tmp_path / "rk.tif"),
                                        "OUTPUT_KRIGED_RESIDUAL": str(tmp_path / "added.tif")})
    values = {}
    for name, file in (("plain", plain["OUTPUT"]), ("rk", kriged["OUTPUT"]),
                       ("added", kriged["OUTPUT_KRIGED_RESIDUAL"])):
        ds = gdal.Open(file)
        values[name] = ds.GetRasterBand(1).ReadAsArray().astype(float).ravel()[1:]
    np.testing.assert_allclose(values["rk"], np.maximum(values["plain"] + values["added"], 0),
                               rtol=1e-4, atol=1e-3)
    assert np.std(values["added"]) > 1.0
    with pytest.raises(QgsProcessingException, match="set RESIDUAL_KRIGING to true"):
        run_alg("predictcontent", {"MODEL": str(path), "FACTORS": [factors], "OUTPUT": str(tmp_path / "x.tif"),
                                   "OUTPUT_KRIGED_RESIDUAL": str(tmp_path / "y.tif")})
