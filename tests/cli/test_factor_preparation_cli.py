"""spectralindices and terrainfactors as qgis_process users call them: a Landsat MTL file as
INPUT, a DEM onto a reference grid, help, and a bad input failing clearly."""

import re

import numpy as np
import pytest
from osgeo import gdal

from rasters import write_raster
from support import REAL_DATA, demo_data_dir, qgis_process_help, run_algorithm_cli

MTL = REAL_DATA / "landsat8_l1" / "l8_MTL.txt"
ALL_NAMES = "B2,B3,B4,B5,B6,B7,NDVI,EVI,DVI,RVI,MNDWI,CMR,BRIGHTNESS,GREENNESS,WETNESS"


def mtl_value(text, key):
    """A numeric value of the MTL text, parsed here independently of core.landsat."""
    return float(re.search(rf"^\s*{key}\s*=\s*(\S+)", text, re.M).group(1))


def test_spectralindices_on_an_mtl_file_gives_toa_reflectance(profile, tmp_path):
    output = tmp_path / "toa.tif"
    code, payload, log = run_algorithm_cli("spectralindices", {"INPUT": MTL, "OUTPUT": output}, profile)
    assert code == 0, log
    assert payload["results"]["FACTOR_NAMES"] == ALL_NAMES
    text = MTL.read_text()
    sine = np.sin(np.radians(mtl_value(text, "SUN_ELEVATION")))
    dataset = gdal.Open(str(output))
    assert [dataset.GetRasterBand(i).GetDescription() for i in range(1, dataset.RasterCount + 1)] \
        == ALL_NAMES.split(",")
    rows, cols = dataset.RasterYSize, dataset.RasterXSize
    pixels = [(rows // 2, cols // 2), (10, 20), (rows - 5, cols - 7)]
    for position, number in enumerate(range(2, 8), start=1):
        source = gdal.Open(str(MTL.parent / f"l8_B{number}.tif"))
        assert (source.RasterXSize, source.RasterYSize) == (cols, rows)
        assert dataset.GetGeoTransform() == source.GetGeoTransform()
        dn = source.GetRasterBand(1).ReadAsArray().astype(np.float64)
        written = dataset.GetRasterBand(position).ReadAsArray().astype(np.float64)
        gain = mtl_value(text, f"REFLECTANCE_MULT_BAND_{number}")
        offset = mtl_value(text, f"REFLECTANCE_ADD_BAND_{number}")
        for row, col in pixels:
            assert dn[row, col] > 0
            expected = (gain * dn[row, col] + offset) / sine
            assert written[row, col] == pytest.approx(expected, abs=1e-6)


def test_terrainfactors_onto_a_reference_grid(profile, tmp_path):
    demo = demo_data_dir()
    reference = demo / "landsat8_20171215.tif"
    output = tmp_path / "terrain.tif"
    code, payload, log = run_algorithm_cli("terrainfactors", {
        "INPUT": demo / "dem_1arcsec.tif", "REFERENCE": reference, "RESAMPLING": 1,
        "OUTPUT": output}, profile)
    assert code == 0, log
    assert payload["results"]["OUTPUT"] == str(output)
    written, target = gdal.Open(str(output)), gdal.Open(str(reference))
    assert [written.GetRasterBand(i).GetDescription() for i in range(1, 6)] == \
        ["ELEVATION", "SLOPE", "ASPECT", "NORTHNESS", "EASTNESS"]
    assert (written.RasterXSize, written.RasterYSize) == (target.RasterXSize, target.RasterYSize)
    assert written.GetGeoTransform() == target.GetGeoTransform()
    slope = written.GetRasterBand(2).ReadAsArray().astype(np.float64)
    slope = slope[slope != written.GetRasterBand(2).GetNoDataValue()]
    assert slope.size > 0.9 * written.RasterXSize * written.RasterYSize
    assert 0.0 <= slope.min() and slope.max() < 90.0


def test_a_raster_with_too_few_bands_fails_clearly(profile, tmp_path):
    three = write_raster(tmp_path / "rgb.tif", [np.full((5, 5), 0.1)] * 3, ["R", "G", "B"])
    code, _, log = run_algorithm_cli("spectralindices", {"INPUT": three, "OUTPUT": tmp_path / "bad.tif"},
                                     profile)
    assert code != 0
    assert "has 3 band(s)" in log and "Set BAND_BLUE ... BAND_SWIR2" in log
    assert not (tmp_path / "bad.tif").exists()


@pytest.mark.parametrize("algorithm", ["spectralindices", "terrainfactors"])
def test_help_lists_parameters_and_enum_indices(profile, algorithm):
    result = qgis_process_help(algorithm, profile)
    assert result.returncode == 0, result.stderr
    if algorithm == "spectralindices":
        for text in ("BAND_SWIR2", "FACTORS", "0: reflectance 0-1", "14: WETNESS", "MTL", "FACTOR_NAMES"):
            assert text in result.stdout
    else:
        for text in ("REFERENCE", "Z_FACTOR", "0: Bilinear", "1: Cubic"):
            assert text in result.stdout
