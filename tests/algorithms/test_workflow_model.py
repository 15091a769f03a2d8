"""The shipped graphical model: listed, documented, built by its script, and running the whole
chain on the demo data (with and without the topographic correction)."""

import importlib.util
import json
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (Qgis, QgsApplication, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingFeedback, QgsProcessingModelAlgorithm)

from support import ROOT, demo_data_dir

MODEL_ID = "soilmetal:trgabpworkflow"


def test_workflow_model_is_listed_and_documented(plugin):
    model = QgsApplication.processingRegistry().algorithmById(MODEL_ID)
    assert model is not None
    assert model.group() == "Mapping and reporting"
    children = {child.algorithmId() for child in model.childAlgorithms().values()}
    assert children == {f"soilmetal:{name}" for name in (
        "spectralindices", "terrainfactors", "selectfactors", "traingabp", "transfergabp",
        "predictcontent", "contentstatistics", "topographiccorrection")} | {
        "native:condition", "native:raiseexception"}
    for child in model.childAlgorithms().values():
        assert QgsApplication.processingRegistry().algorithmById(child.algorithmId()) is not None
    assert "Tr-GA-BP" in model.shortHelpString()
    for parameter in model.parameterDefinitions():
        assert parameter.description()
    # selectfactors' SELECTED feeds traingabp's FACTOR_NAMES.
    sources = model.childAlgorithm("train").parameterSources()["FACTOR_NAMES"]
    assert sources[0].outputChildId() == "select" and sources[0].outputName() == "SELECTED"


def test_workflow_model_runs_end_to_end_on_demo_data(plugin, tmp_path):
    import processing
    data = demo_data_dir()
    out_map = str(tmp_path / "cu_2019.tif")
    params = {
        "LANDSAT_SOURCE": str(data / "landsat8_20171215.tif"), "LANDSAT_TARGET": str(data / "landsat8_20191118.tif"),
        "SCALE": 1, "DEM": str(data / "dem_1arcsec.tif"),
        "POINTS_SOURCE": str(data / "samples_2017.gpkg"), "FIELD_SOURCE": "cu_mg_kg",
        "POINTS_TARGET": str(data / "samples_2019.gpkg"), "FIELD_TARGET": "cu_mg_kg",
        "ALWAYS_INCLUDE": "ASPECT,ELEVATION", "TRAIN_SAMPLES": 16, "ENSEMBLE": 1, "SEED": 0,
        "REFERENCE_MEAN": 21.4, "REFERENCE_MAX": 43.6, "CLASS_BREAKS": "0,30,50,70,90,110",
        "predict:Content map": out_map,
        "transfer:Tr-GA-BP model, second survey": str(tmp_path / "cu_trgabp.json"),
        "statistics:Content statistics report": str(tmp_path / "stats.html"),
    }
    result = processing.run(MODEL_ID, params, context=QgsProcessingContext(), feedback=QgsProcessingFeedback())
    assert result["predict:Content map"] == out_map
    dataset = gdal.Open(out_map)
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray().astype(float)
    valid = values != band.GetNoDataValue()
    assert band.GetDescription().startswith("Cu")
    assert valid.mean() > 0.95
    # A content map of the demo area: positive mg/kg of the order of the true map.
    assert 10 < np.median(values[valid]) < 120
    assert os.path.getsize(tmp_path / "stats.html") > 1000
    model_text = (tmp_path / "cu_trgabp.json").read_text()
    assert "soilmetal-model" in model_text and "source_sha256" in model_text


def test_every_workflow_input_has_help(plugin):
    model = QgsApplication.processingRegistry().algorithmById(MODEL_ID)
    names = {parameter.name() for parameter in model.parameterDefinitions()}
    assert {"OUTLIERS", "SAMPLING", "LOG_TARGET", "CV", "COVERAGE", "THRESHOLD"} <= names
    assert {"OUTLIERS_THRESHOLD", "TOPOGRAPHIC_CORRECTION", "SUN_AZIMUTH_SOURCE", "SUN_ELEVATION_SOURCE",
            "SUN_AZIMUTH_TARGET", "SUN_ELEVATION_TARGET"} <= names
    inputs = [p for p in model.parameterDefinitions() if not p.isDestination()]
    assert len(inputs) == 27
    for child_id, name in (("predict", "COVERAGE"), ("predict", "THRESHOLD"), ("train", "CV"),
                           ("transfer", "CV"), ("train", "LOG_TARGET"), ("select", "OUTLIERS"),
                           ("transfer", "SAMPLING"), ("select", "OUTLIERS_THRESHOLD"),
                           ("train", "OUTLIERS_THRESHOLD"), ("transfer", "OUTLIERS_THRESHOLD")):
        sources = model.childAlgorithm(child_id).parameterSources()[name]
        assert sources[0].parameterName() == name, (child_id, name)
    for suffix in ("SOURCE", "TARGET"):
        sources = model.childAlgorithm(f"topographic_{suffix.lower()}").parameterSources()
        assert sources["SUN_ELEVATION"][0].parameterName() == f"SUN_ELEVATION_{suffix}"
        assert sources["SUN_AZIMUTH"][0].parameterName() == f"SUN_AZIMUTH_{suffix}"
    assert model.parameterDefinition("TOPOGRAPHIC_CORRECTION").defaultValue() == 0
    assert model.parameterDefinition("OUTLIERS_THRESHOLD").defaultValue() is None
    help_content = model.helpContent()
    for parameter in inputs:
        assert help_content.get(parameter.name(), "").strip(), parameter.name()


def read_map(path):
    dataset = gdal.Open(str(path))
    band = dataset.GetRasterBand(1)
    return band.ReadAsArray().astype(float)


DAYS = {"2017": "20171215", "2019": "20191118"}


def run_step(algorithm, **parameters):
    """One soilmetal step through processing.run."""
    import processing
    return processing.run(f"soilmetal:{algorithm}", parameters, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


def run_workflow(tmp_path, name, field, seed, **settings):
    """The shipped model on the demo data (ensemble 1, no CV); the path of its content map."""
    import processing
    data = demo_data_dir()
    workflow_map = tmp_path / f"{name}.tif"
    processing.run(MODEL_ID, {
        "LANDSAT_SOURCE": str(data / "landsat8_20171215.tif"),
        "LANDSAT_TARGET": str(data / "landsat8_20191118.tif"), "SCALE": 1,
        "DEM": str(data / "dem_1arcsec.tif"), "POINTS_SOURCE": str(data / "samples_2017.gpkg"),
        "FIELD_SOURCE": field, "POINTS_TARGET": str(data / "samples_2019.gpkg"),
        "FIELD_TARGET": field, "ALWAYS_INCLUDE": "ASPECT,ELEVATION", "TRAIN_SAMPLES": 16,
        "ENSEMBLE": 1, "SEED": seed, "CLASS_BREAKS": "0,30,50,70,90,110", "CV": 0, **settings,
        "predict:Content map": str(workflow_map),
        "transfer:Tr-GA-BP model, second survey": str(tmp_path / f"{name}.json")},
        context=QgsProcessingContext(), feedback=QgsProcessingFeedback())
    return workflow_map


def step_by_step_map(tmp_path, images, scale, field, seed, common, log_target):
    """The content map of the chain run one step at a time from {year: image} read with SCALE scale."""
    data = demo_data_dir()
    spectral = {year: run_step("spectralindices", INPUT=images[year], SCALE=scale,
                               OUTPUT=str(tmp_path / f"spectral_{year}.tif"))["OUTPUT"] for year in DAYS}
    terrain = run_step("terrainfactors", INPUT=str(data / "dem_1arcsec.tif"), BAND=1,
                       REFERENCE=str(data / "landsat8_20171215.tif"),
                       OUTPUT=str(tmp_path / "terrain.tif"))["OUTPUT"]
    source_factors, target_factors = [spectral["2017"], terrain], [spectral["2019"], terrain]
    selected = run_step("selectfactors", POINTS=str(data / "samples_2017.gpkg"), FIELD=field,
                        FACTORS=source_factors, MIN_ABS_R=0.3, MAX_VIF=10.0,
                        ALWAYS_INCLUDE="ASPECT,ELEVATION", **common)["SELECTED"]
    source = run_step("traingabp", POINTS=str(data / "samples_2017.gpkg"), FIELD=field,
                      FACTORS=source_factors, FACTOR_NAMES=selected, ENSEMBLE=1, SEED=seed,
                      LOG_TARGET=log_target, CV=0, OUTPUT_MODEL=str(tmp_path / "source.json"), **common)
    transferred = run_step("transfergabp", SOURCE_MODEL=source["OUTPUT_MODEL"],
                           POINTS=str(data / "samples_2019.gpkg"), FIELD=field,
                           FACTORS=target_factors, TRAIN_SAMPLES=16, SEED=seed, CV=0,
                           OUTPUT_MODEL=str(tmp_path / "steps.json"), **common)
    return run_step("predictcontent", MODEL=transferred["OUTPUT_MODEL"], FACTORS=target_factors,
                    OUTPUT=str(tmp_path / "steps.tif"))["OUTPUT"]


def test_workflow_map_equals_the_step_by_step_map(plugin, tmp_path):
    """Same settings (IQR outliers, log target, bilinear sampling) in one command and step by step."""
    data = demo_data_dir()
    common = {"OUTLIERS": 1, "SAMPLING": 1}
    workflow_map = run_workflow(tmp_path, "wf", "pb_mg_kg", 3, LOG_TARGET=True, **common)
    images = {year: str(data / f"landsat8_{day}.tif") for year, day in DAYS.items()}
    steps_map = step_by_step_map(tmp_path, images, 1, "pb_mg_kg", 3, common, True)
    np.testing.assert_array_equal(read_map(workflow_map), read_map(steps_map))
    assert '"log_target": true' in (tmp_path / "wf.json").read_text()


def demo_sun():
    """{year: (azimuth, elevation)} of the demo images (they carry no MTL)."""
    landsat = json.loads((demo_data_dir() / "demo_metadata.json").read_text())["landsat"]
    return {year: (landsat[year]["sun_azimuth_deg"], landsat[year]["sun_elevation_deg"]) for year in DAYS}


def test_corrected_workflow_map_equals_the_corrected_step_by_step_map(plugin, tmp_path):
    """TOPOGRAPHIC_CORRECTION 2 (C-correction): each image converted to reflectance, corrected with
    its sun, then the same chain; OUTLIERS_THRESHOLD reaches every step."""
    data = demo_data_dir()
    sun = demo_sun()
    common = {"OUTLIERS": 1, "OUTLIERS_THRESHOLD": 3.0, "SAMPLING": 1}
    correction = {"TOPOGRAPHIC_CORRECTION": 2, "SUN_AZIMUTH_SOURCE": sun["2017"][0],
                  "SUN_ELEVATION_SOURCE": sun["2017"][1], "SUN_AZIMUTH_TARGET": sun["2019"][0],
                  "SUN_ELEVATION_TARGET": sun["2019"][1]}
    workflow_map = run_workflow(tmp_path, "corrected", "cu_mg_kg", 1, **common, **correction)
    corrected = {}
    for year, day in DAYS.items():
        reflectance = run_step("spectralindices", INPUT=str(data / f"landsat8_{day}.tif"), SCALE=1,
                               FACTORS=[0, 1, 2, 3, 4, 5], OUTPUT=str(tmp_path / f"bands_{year}.tif"))
        corrected[year] = run_step(
            "topographiccorrection", INPUT=reflectance["OUTPUT"], DEM=str(data / "dem_1arcsec.tif"),
            METHOD=1, SUN_AZIMUTH=sun[year][0], SUN_ELEVATION=sun[year][1],
            OUTPUT=str(tmp_path / f"corrected_{year}.tif"))["OUTPUT"]
    steps_map = step_by_step_map(tmp_path, corrected, 0, "cu_mg_kg", 1, common, False)
    np.testing.assert_array_equal(read_map(workflow_map), read_map(steps_map))
    # The option did change the map: without it the same settings give another one.
    plain_map = run_workflow(tmp_path, "plain", "cu_mg_kg", 1, **common)
    assert not np.array_equal(read_map(plain_map), read_map(workflow_map))


@pytest.mark.parametrize("sun, given", [
    ({"SUN_ELEVATION_SOURCE": -5.0}, "SUN_ELEVATION_SOURCE=-5"),
    ({"SUN_ELEVATION_SOURCE": 0.0}, "SUN_ELEVATION_SOURCE=0"),
    ({"SUN_ELEVATION_TARGET": None}, "SUN_ELEVATION_TARGET=empty"),
], ids=["below-horizon", "horizon", "missing"])
def test_correction_without_a_usable_sun_stops_before_any_step(plugin, tmp_path, sun, given):
    import processing
    data = demo_data_dir()
    out = tmp_path / "out"
    out.mkdir()
    steps = []

    class Feedback(QgsProcessingFeedback):
        def setProgressText(self, text):
            steps.append(text)

    parameters = {
        "LANDSAT_SOURCE": str(data / "landsat8_20171215.tif"),
        "LANDSAT_TARGET": str(data / "landsat8_20191118.tif"), "SCALE": 1,
        "DEM": str(data / "dem_1arcsec.tif"), "POINTS_SOURCE": str(data / "samples_2017.gpkg"),
        "FIELD_SOURCE": "cu_mg_kg", "POINTS_TARGET": str(data / "samples_2019.gpkg"),
        "FIELD_TARGET": "cu_mg_kg", "ENSEMBLE": 1, "CV": 0, "TOPOGRAPHIC_CORRECTION": 2,
        "SUN_AZIMUTH_SOURCE": 159.0, "SUN_ELEVATION_SOURCE": 30.4, "SUN_AZIMUTH_TARGET": 161.5,
        "SUN_ELEVATION_TARGET": 35.2, **sun,
        "predict:Content map": str(out / "cu.tif"),
        "transfer:Tr-GA-BP model, second survey": str(out / "cu.json")}
    with pytest.raises(QgsProcessingException) as error:
        processing.run(MODEL_ID, parameters, context=QgsProcessingContext(), feedback=Feedback())
    # The shipped model evaluates the check before any step runs, so the message is the
    # exception's on every version (QGIS 3.22 alone would give it to the feedback only).
    message = str(error.value)
    assert given in message and "0 < elevation <= 90" in message, message
    assert "set TOPOGRAPHIC_CORRECTION to 0" in message and "_MTL.txt" in message
    assert os.listdir(out) == []
    assert all("Check the sun position" in step for step in steps if step.startswith("Running")), steps


def load_build_script():
    """scripts/build_workflow_model.py as a module."""
    spec = importlib.util.spec_from_file_location("build_workflow_model",
                                                  ROOT / "scripts" / "build_workflow_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_file_content(path):
    """What QGIS reads from a .model3 file: its steps, inputs and help. Outputs are left out: QGIS
    3.40 names a model's output parameters in its own way (content_map for predict:Content map)."""
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(path)), path
    content = model.toVariant()
    inputs = {p.name() for p in model.parameterDefinitions() if not p.isDestination()}
    return {"children": content["children"], "parameters": content["parameters"],
            "inputs": {k: v for k, v in content["parameterDefinitions"].items() if k in inputs},
            "help": {k: v for k, v in content["help"].items() if k in inputs or k.isupper()}}


def test_committed_model_file_is_what_the_script_builds(plugin, tmp_path):
    script = load_build_script()
    first, second = tmp_path / "first.model3", tmp_path / "second.model3"
    script.write(script.build(), first)
    assert model_file_content(script.OUTPUT_PATH) == model_file_content(first), \
        "models/trgabpworkflow.model3 is not what scripts/build_workflow_model.py builds: run it"
    # Built twice, the file is the same byte for byte (a rebuild shows only real changes).
    script.write(script.build(), second)
    assert first.read_bytes() == second.read_bytes()
    if Qgis.QGIS_VERSION_INT // 100 == 322:  # the version the committed file is written with
        assert first.read_bytes() == script.OUTPUT_PATH.read_bytes()
