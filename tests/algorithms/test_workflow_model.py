"""The shipped graphical model: listed, documented, and running the whole chain on the demo data."""

import os

import numpy as np
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback

from support import demo_data_dir

MODEL_ID = "soilmetal:trgabpworkflow"


def test_workflow_model_is_listed_and_documented(plugin):
    model = QgsApplication.processingRegistry().algorithmById(MODEL_ID)
    assert model is not None
    assert model.group() == "Mapping and reporting"
    children = {child.algorithmId() for child in model.childAlgorithms().values()}
    assert children == {f"soilmetal:{name}" for name in (
        "spectralindices", "terrainfactors", "selectfactors", "traingabp", "transfergabp",
        "predictcontent", "contentstatistics")}
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
    inputs = [p for p in model.parameterDefinitions() if not p.isDestination()]
    assert len(inputs) == 21
    for child_id, name in (("predict", "COVERAGE"), ("predict", "THRESHOLD"), ("train", "CV"),
                           ("transfer", "CV"), ("train", "LOG_TARGET"), ("select", "OUTLIERS"),
                           ("transfer", "SAMPLING")):
        sources = model.childAlgorithm(child_id).parameterSources()[name]
        assert sources[0].parameterName() == name, (child_id, name)
    help_content = model.helpContent()
    for parameter in inputs:
        assert help_content.get(parameter.name(), "").strip(), parameter.name()


def read_map(path):
    dataset = gdal.Open(str(path))
    band = dataset.GetRasterBand(1)
    return band.ReadAsArray().astype(float)


def test_workflow_map_equals_the_step_by_step_map(plugin, tmp_path):
    """Same settings (IQR outliers, log target, bilinear sampling) in one command and step by step."""
    import processing
    data = demo_data_dir()
    run = lambda alg, **p: processing.run(f"soilmetal:{alg}", p, context=QgsProcessingContext(),  # noqa: E731
                                          feedback=QgsProcessingFeedback())
    common = {"OUTLIERS": 1, "SAMPLING": 1}
    workflow_map = tmp_path / "workflow.tif"
    processing.run(MODEL_ID, {
        "LANDSAT_SOURCE": str(data / "landsat8_20171215.tif"),
        "LANDSAT_TARGET": str(data / "landsat8_20191118.tif"), "SCALE": 1,
        "DEM": str(data / "dem_1arcsec.tif"), "POINTS_SOURCE": str(data / "samples_2017.gpkg"),
        "FIELD_SOURCE": "pb_mg_kg", "POINTS_TARGET": str(data / "samples_2019.gpkg"),
        "FIELD_TARGET": "pb_mg_kg", "ALWAYS_INCLUDE": "ASPECT,ELEVATION", "TRAIN_SAMPLES": 16,
        "ENSEMBLE": 1, "SEED": 3, "CLASS_BREAKS": "0,30,50,70,90,110", "LOG_TARGET": True,
        "CV": 0, **common, "predict:Content map": str(workflow_map),
        "transfer:Tr-GA-BP model, second survey": str(tmp_path / "wf.json")},
        context=QgsProcessingContext(), feedback=QgsProcessingFeedback())

    spectral = {year: run("spectralindices", INPUT=str(data / f"landsat8_{day}.tif"), SCALE=1,
                          OUTPUT=str(tmp_path / f"spectral_{year}.tif"))["OUTPUT"]
                for year, day in (("2017", "20171215"), ("2019", "20191118"))}
    terrain = run("terrainfactors", INPUT=str(data / "dem_1arcsec.tif"), BAND=1,
                  REFERENCE=str(data / "landsat8_20171215.tif"),
                  OUTPUT=str(tmp_path / "terrain.tif"))["OUTPUT"]
    source_factors, target_factors = [spectral["2017"], terrain], [spectral["2019"], terrain]
    selected = run("selectfactors", POINTS=str(data / "samples_2017.gpkg"), FIELD="pb_mg_kg",
                   FACTORS=source_factors, MIN_ABS_R=0.3, MAX_VIF=10.0,
                   ALWAYS_INCLUDE="ASPECT,ELEVATION", **common)["SELECTED"]
    source = run("traingabp", POINTS=str(data / "samples_2017.gpkg"), FIELD="pb_mg_kg",
                 FACTORS=source_factors, FACTOR_NAMES=selected, ENSEMBLE=1, SEED=3,
                 LOG_TARGET=True, CV=0, OUTPUT_MODEL=str(tmp_path / "source.json"), **common)
    transferred = run("transfergabp", SOURCE_MODEL=source["OUTPUT_MODEL"],
                      POINTS=str(data / "samples_2019.gpkg"), FIELD="pb_mg_kg",
                      FACTORS=target_factors, TRAIN_SAMPLES=16, SEED=3, CV=0,
                      OUTPUT_MODEL=str(tmp_path / "steps.json"), **common)
    steps_map = run("predictcontent", MODEL=transferred["OUTPUT_MODEL"], FACTORS=target_factors,
                    OUTPUT=str(tmp_path / "steps.tif"))["OUTPUT"]
    np.testing.assert_array_equal(read_map(workflow_map), read_map(steps_map))
    assert '"log_target": true' in (tmp_path / "wf.json").read_text()
