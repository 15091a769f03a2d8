"""Every raster a qgis_process run writes opens styled in a fresh QgsProject: the .qml beside it
gives the content map its classes and colours, the Igeo and CF maps their standard classes,
factor rasters one grey band; the content map's classes are those of contentstatistics' table."""

import math
import os
import tempfile

import numpy as np
import pandas as pd
import pytest
from osgeo import gdal

from support import demo_data_dir, run_algorithm_cli

CONTENT_GREEN, CONTENT_PURPLE = "#1a9850", "#7b1f5e"


@pytest.fixture(scope="module")
def outputs(profile, tmp_path_factory):
    """The demo's chain through qgis_process, one call per step -> {name: path}."""
    folder = tmp_path_factory.mktemp("styled")
    demo = demo_data_dir()
    paths = {name: folder / f"{name}.tif" for name in
             ("spectral", "terrain", "content", "spread", "igeo", "cf", "lower", "upper",
              "exceedance", "aoa")}

    def run(algorithm, params):
        code, payload, log = run_algorithm_cli(algorithm, params, profile)
        assert code == 0, log
        return payload["results"]
    run("spectralindices", {"INPUT": demo / "landsat8_20171215.tif", "SCALE": 1, "OUTPUT": paths["spectral"]})
    run("terrainfactors", {"INPUT": demo / "dem_1arcsec.tif", "REFERENCE": demo / "landsat8_20171215.tif",
                           "OUTPUT": paths["terrain"]})
    factors = [paths["spectral"], paths["terrain"]]
    run("traingabp", {"POINTS": demo / "samples_2017.gpkg", "FIELD": "cu_mg_kg", "FACTORS": factors,
                      "FACTOR_NAMES": "NDVI,SLOPE,ELEVATION", "ENSEMBLE": 2, "SEED": 1,
                      "OUTPUT_MODEL": folder / "cu.json"})
    run("predictcontent", {"MODEL": folder / "cu.json", "FACTORS": factors, "OUTPUT": paths["content"],
                           "OUTPUT_UNCERTAINTY": paths["spread"], "OUTPUT_LOWER": paths["lower"],
                           "OUTPUT_UPPER": paths["upper"], "THRESHOLD": 60,
                           "OUTPUT_EXCEEDANCE": paths["exceedance"], "OUTPUT_AOA": paths["aoa"]})
    paths["shares"] = run("contentstatistics", {
        "INPUT": paths["content"], "THRESHOLD": 60, "LOWER": paths["lower"], "UPPER": paths["upper"],
        "AOA": paths["aoa"]})
    run("contentstatistics", {"INPUT": paths["content"], "REFERENCE_MEAN": 21.4,
                              "OUTPUT_TABLE": folder / "stats.csv", "OUTPUT_INDEX": paths["igeo"]})
    run("contentstatistics", {"INPUT": paths["content"], "REFERENCE_MEAN": 21.4, "INDEX": 1,
                              "OUTPUT_INDEX": paths["cf"]})
    paths["table"] = folder / "stats.csv"
    return paths


@pytest.fixture(scope="module")
def project():
    """A QgsApplication in this process and a fresh, empty project."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", tempfile.mkdtemp(prefix="soilmetal-style-"))
    from qgis.core import QgsApplication, QgsProject
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    # Held for the whole process, as the algorithms tier does: QGIS 3.40 crashes when the
    # application is destroyed at the fixture's end while layers and the project still exist.
    _APPLICATION.append(app)
    fresh = QgsProject()
    yield fresh
    fresh.removeAllMapLayers()


_APPLICATION = []


def opened(project, path):
    """The raster as QGIS opens it when dragged in: a layer loading its default style."""
    from qgis.core import QgsRasterLayer
    assert os.path.exists(os.path.splitext(str(path))[0] + ".qml"), f"no .qml beside {path}"
    layer = QgsRasterLayer(str(path), os.path.basename(str(path)))
    assert layer.isValid()
    project.addMapLayer(layer)
    return layer


def classes_of(layer):
    """(values, colours, labels) of a classed single-band renderer."""
    renderer = layer.renderer()
    assert renderer.type() == "singlebandpseudocolor"
    function = renderer.shader().rasterShaderFunction()
    from qgis.core import QgsColorRampShader
    assert function.colorRampType() == QgsColorRampShader.Discrete
    items = function.colorRampItemList()
    return [i.value for i in items], [i.color.name() for i in items], [i.label for i in items]


def band_values(path):
    """Band 1 as floats, NaN for nodata, read here with GDAL."""
    dataset = gdal.Open(str(path))
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray().astype(float)
    values[values == band.GetNoDataValue()] = np.nan
    return values


def test_content_map_opens_in_round_classes_shared_with_the_statistics_table(outputs, project):
    values, colours, labels = classes_of(opened(project, outputs["content"]))
    content = band_values(outputs["content"])
    low, high = np.nanpercentile(content, [1, 99])
    step = values[1] - values[0]
    assert values[-1] == math.inf and len(values) >= 4
    assert np.allclose(np.diff(values[:-1]), step)
    assert values[0] - step <= low and values[-2] + step >= high   # the classes span the map
    assert colours[0] == CONTENT_GREEN and colours[-1] == CONTENT_PURPLE and len(set(colours)) == len(colours)
    assert labels[0].startswith("< ") and labels[-1].startswith(">= ") and "mg/kg" in labels[1]
    table = pd.read_csv(outputs["table"])
    lower = table.loc[table["section"] == "content classes", "lower"].dropna().to_numpy(float)
    # contentstatistics' default classes ("auto") are the legend's: every inner break is a class limit.
    assert set(np.round(values[:-1], 6)) <= set(np.round(lower, 6))


def test_spread_map_opens_white_to_blue(outputs, project):
    values, colours, _ = classes_of(opened(project, outputs["spread"]))
    assert values[0] > 0 and colours[0] == "#f7fbff" and colours[-1] == "#08306b"


def test_igeo_map_opens_in_muellers_classes(outputs, project):
    values, colours, labels = classes_of(opened(project, outputs["igeo"]))
    assert values == [0, 1, 2, 3, 4, 5, math.inf]
    assert [label.split(" (")[0] for label in labels] == [f"class {k}" for k in range(7)]
    assert "unpolluted" in labels[0] and "extremely polluted" in labels[6]
    assert len(set(colours)) == 7


def test_cf_map_opens_in_hakansons_classes(outputs, project):
    values, _, labels = classes_of(opened(project, outputs["cf"]))
    assert values == [1, 3, 6, math.inf]
    assert [label.split(": ")[1] for label in labels] == ["low", "moderate", "considerable", "very high"]


@pytest.mark.parametrize("name", ["spectral", "terrain"])
def test_factor_rasters_open_as_one_grey_band(outputs, project, name):
    layer = opened(project, outputs[name])
    renderer = layer.renderer()
    assert renderer.type() == "singlebandgray" and renderer.grayBand() == 1
    first = band_values(outputs[name])
    low, high = np.nanpercentile(first, [2, 98])
    enhancement = renderer.contrastEnhancement()
    assert enhancement.minimumValue() == pytest.approx(low, rel=1e-3, abs=1e-6)
    assert enhancement.maximumValue() == pytest.approx(high, rel=1e-3, abs=1e-6)


def test_interval_maps_share_the_content_maps_classes(outputs, project):
    content, colours, _ = classes_of(opened(project, outputs["content"]))
    for name in ("lower", "upper"):
        values, bound_colours, _ = classes_of(opened(project, outputs[name]))
        assert values == content and bound_colours == colours


def test_aoa_map_opens_inside_and_outside_at_its_threshold(outputs, project):
    values, _, labels = classes_of(opened(project, outputs["aoa"]))
    dataset = gdal.Open(str(outputs["aoa"]))
    threshold = float(dataset.GetRasterBand(1).GetMetadataItem("AOA_THRESHOLD"))
    assert values == pytest.approx([threshold, math.inf])
    assert labels[0].startswith("inside") and labels[1].startswith("outside")
    di = band_values(outputs["aoa"])
    content = band_values(outputs["content"])
    valid = np.isfinite(content)
    inside = np.isfinite(di) & (np.where(np.isfinite(di), di, np.inf) <= threshold)
    assert outputs["shares"]["AOA_SHARE"] == pytest.approx(inside[valid].mean())


def test_exceedance_map_opens_in_probability_classes(outputs, project):
    values, _, _ = classes_of(opened(project, outputs["exceedance"]))
    assert values == pytest.approx([0.1, 0.25, 0.5, 0.75, 0.9, 1.0])


def test_area_above_the_threshold_has_the_bounds_range(outputs):
    shares = outputs["shares"]
    content = band_values(outputs["content"])
    valid = np.isfinite(content)
    lower, upper = band_values(outputs["lower"]), band_values(outputs["upper"])
    assert shares["PERCENT_ABOVE_THRESHOLD"] == pytest.approx(100 * (content[valid] > 60).mean())
    assert shares["PERCENT_ABOVE_THRESHOLD_LOW"] == pytest.approx(
        100 * (np.nan_to_num(lower, nan=-1)[valid] > 60).mean())
    assert shares["PERCENT_ABOVE_THRESHOLD_HIGH"] == pytest.approx(
        100 * (np.nan_to_num(upper, nan=-1)[valid] > 60).mean())
