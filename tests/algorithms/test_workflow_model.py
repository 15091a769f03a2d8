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
