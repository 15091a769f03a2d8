"""selectfactors as a qgis_process user calls it: help, a real Meuse run, a clear failure."""

import numpy as np
import pandas as pd
import pytest
from osgeo import gdal, ogr, osr

from rasters import write_raster
from support import REAL_DATA, run_algorithm_cli, run_qgis_process

MEUSE_CSV = REAL_DATA / "meuse" / "ucdavis_meuse.csv"
MEUSE_DEM = REAL_DATA / "meuse" / "Meuse_SRTMGL1.2.tif"


@pytest.fixture(scope="module")
def meuse(tmp_path_factory):
    """Meuse samples as a GeoPackage and ELEVATION + SLOPE of the SRTM DEM, with sampled values."""
    folder = tmp_path_factory.mktemp("meuse-cli")
    frame = pd.read_csv(MEUSE_CSV, na_values=["NA"])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(28992)
    dataset = ogr.GetDriverByName("GPKG").CreateDataSource(str(folder / "meuse.gpkg"))
    layer = dataset.CreateLayer("samples", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("copper", ogr.OFTReal))
    layer.CreateField(ogr.FieldDefn("landuse", ogr.OFTString))
    for row in frame.itertuples(index=False):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("copper", float(row.copper))
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(float(row.x), float(row.y))
        feature.SetGeometry(point)
        layer.CreateFeature(feature)
    dataset = None
    dem_dataset = gdal.Open(str(MEUSE_DEM))
    gt = dem_dataset.GetGeoTransform()
    dem = dem_dataset.ReadAsArray().astype(float)
    d_row, d_col = np.gradient(dem, gt[1])
    slope = np.degrees(np.arctan(np.hypot(d_row, d_col)))
    factors = write_raster(folder / "terrain.tif", [dem, slope], ["ELEVATION", "SLOPE"],
                           origin=(gt[0], gt[3]), size=gt[1], epsg=28992)
    cols = ((frame["x"] - gt[0]) // gt[1]).astype(int)
    rows = ((frame["y"] - gt[3]) // gt[5]).astype(int)
    stored = gdal.Open(factors).ReadAsArray().astype(float)
    sampled = pd.DataFrame({"ELEVATION": stored[0][rows, cols], "SLOPE": stored[1][rows, cols]})
    return {"folder": folder, "points": str(folder / "meuse.gpkg"), "factors": factors,
            "copper": frame["copper"].astype(float), "sampled": sampled}


def test_help_lists_parameters_and_enum_indices(profile):
    result = run_qgis_process(["help", "soilmetal:selectfactors"], profile)
    assert result.returncode == 0, result.stderr
    for text in ("POINTS", "FIELD", "FACTORS", "MIN_ABS_R", "MAX_VIF", "ALWAYS_INCLUDE",
                 "SAMPLING", "OUTLIERS", "OUTLIERS_THRESHOLD", "OUTPUT_TABLE", "OUTPUT_REPORT",
                 "SELECTED", "N_SAMPLES", "0: None: keep every sample"):
        assert text in result.stdout


def test_meuse_run_and_a_text_field_failure(profile, meuse):
    folder = meuse["folder"]
    code, payload, log = run_algorithm_cli("selectfactors", {
        "POINTS": meuse["points"], "FIELD": "copper", "FACTORS": meuse["factors"],
        "ALWAYS_INCLUDE": "ELEVATION", "OUTPUT_TABLE": folder / "cu.csv",
        "OUTPUT_REPORT": folder / "cu.html"}, profile)
    assert code == 0, log
    results = payload["results"]
    assert results["N_SAMPLES"] == 155
    table = pd.read_csv(folder / "cu.csv").set_index("factor")
    expected_r = meuse["sampled"].corrwith(meuse["copper"])
    np.testing.assert_allclose(table["r"], expected_r[table.index], rtol=1e-9)
    assert "ELEVATION" in results["SELECTED"].split(",")
    assert results["SELECTED"] == ",".join(table.index[table["selected"]])
    assert (folder / "cu.html").exists()

    code, _, log = run_algorithm_cli("selectfactors", {
        "POINTS": meuse["points"], "FIELD": "landuse", "FACTORS": meuse["factors"],
        "OUTPUT_TABLE": folder / "bad.csv"}, profile)
    assert code != 0
    assert "landuse" in log and "not numeric" in log
    assert not (folder / "bad.csv").exists()
