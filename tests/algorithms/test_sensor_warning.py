"""The model file records the sensor of the factors it was trained on; predictcontent warns when
the factor rasters come from another sensor family (a Landsat model on Sentinel-2 factors)."""

import json

import numpy as np
from osgeo import gdal

from processing_feedback import KeepingFeedback
from rasters import write_points, write_raster

NAMES = ["B4", "B5", "NDVI"]
ORIGIN = (300000.0, 3730000.0)


def factors(path, sensor, seed=0):
    """Three factor bands, with SENSOR in the dataset's metadata as spectralindices writes it."""
    rng = np.random.default_rng(seed)
    write_raster(path, [rng.uniform(0.05, 0.4, (30, 30)) for _ in NAMES], NAMES, origin=ORIGIN)
    if sensor:
        dataset = gdal.Open(str(path), gdal.GA_Update)
        dataset.SetMetadataItem("SENSOR", sensor)
        dataset = None
    return str(path)


def test_model_records_the_sensor_and_a_map_of_another_sensor_warns(run_alg, tmp_path):
    landsat = factors(tmp_path / "landsat.tif", "Landsat 8 OLI")
    rng = np.random.default_rng(1)
    cells = rng.choice(900, 40, replace=False)
    xy = [(ORIGIN[0] + 30 * (c % 30) + 15, ORIGIN[1] - 30 * (c // 30) - 15) for c in cells]
    points = write_points(tmp_path / "points.gpkg", xy, {"cu": list(rng.uniform(10, 90, 40))})
    model_path = str(tmp_path / "model.json")
    run_alg("traingabp", {"POINTS": points, "FIELD": "cu", "FACTORS": [landsat], "GENERATIONS": 2,
                          "EPOCHS": 2, "ENSEMBLE": 1, "CV": 0, "OUTPUT_MODEL": model_path})
    assert json.loads(open(model_path, encoding="utf-8").read())["sensor"] == "Landsat 8 OLI"

    def warnings(path):
        feedback = KeepingFeedback()
        run_alg("predictcontent", {"MODEL": model_path, "FACTORS": [path],
                                   "OUTPUT": str(tmp_path / f"map_{len(list(tmp_path.iterdir()))}.tif")},
                feedback=feedback)
        return [text for text in feedback.messages if "trained on" in text]

    sentinel = warnings(factors(tmp_path / "s2.tif", "Sentinel-2A MSI", seed=2))
    assert len(sentinel) == 1
    assert "Landsat 8 OLI" in sentinel[0] and "Sentinel-2A MSI" in sentinel[0]
    assert "transfergabp" in sentinel[0]
    # Landsat 9 has Landsat 8's bands; factors without a sensor (terrain, old outputs) say nothing.
    assert warnings(factors(tmp_path / "l9.tif", "Landsat 9 OLI-2", seed=3)) == []
    assert warnings(factors(tmp_path / "none.tif", "", seed=4)) == []


def test_a_model_file_without_a_sensor_still_loads_and_maps_without_a_warning(run_alg, tmp_path):
    from soilmetal.core.model_file import Model, load_model, save_model
    from soilmetal.core.science.network import n_params
    rng = np.random.default_rng(5)
    path = tmp_path / "old.json"
    save_model(Model(factor_names=NAMES, x_min=np.zeros(3), x_max=np.ones(3), y_min=10.0, y_max=90.0,
                     members=[rng.normal(0, 0.5, n_params(3, 4))], hidden=4, metal="Cu"), path)
    assert "sensor" not in json.loads(path.read_text())
    assert load_model(path).sensor == ""
    feedback = KeepingFeedback()
    run_alg("predictcontent", {"MODEL": str(path), "FACTORS": [factors(tmp_path / "s2.tif", "Sentinel-2A MSI")],
                               "OUTPUT": str(tmp_path / "map.tif")}, feedback=feedback)
    assert not [text for text in feedback.messages if "trained on" in text]
