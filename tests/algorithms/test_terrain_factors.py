"""terrainfactors through processing.run: slope and aspect vs `gdaldem` on a real DEM, the
REFERENCE grid taken exactly, a geographic DEM in true metres, Z_FACTOR and bad inputs."""

import os
import subprocess

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException

from rasters import read_bands
from support import REAL_DATA, demo_data_dir

SRTM = REAL_DATA / "meuse" / "Meuse_SRTMGL1.2.tif"     # EPSG:28992, 40 m
TERRA = REAL_DATA / "dem" / "terra_elev.tif"                       # EPSG:4326, ~1 km
SR_CLIP = REAL_DATA / "landsat8_sr" / "LC08_232066_20190727.tif"   # Amazon, UTM 20S
NAMES = ["ELEVATION", "SLOPE", "ASPECT", "NORTHNESS", "EASTNESS"]

def gdaldem(mode, source, target):
    """`gdaldem <mode>` (Horn) of a DEM, read back with nodata as NaN."""
    subprocess.run(["gdaldem", mode, "-q", str(source), str(target)], check=True)
    return first_band(target)


def first_band(path):
    """Band 1 of a raster as float64 with nodata as NaN."""
    return next(iter(read_bands(path).values()))


def angle_difference(a, b):
    """Smallest absolute difference between angles in degrees."""
    return np.abs((a - b + 180.0) % 360.0 - 180.0)


def assert_matches_gdaldem(ours, dem, tmp_path, aspect_min_slope=0.0):
    """SLOPE and ASPECT equal gdaldem's within 0.01 degree wherever gdaldem has a value
    (ASPECT where the slope exceeds aspect_min_slope degrees: nearly flat, it is ill-conditioned)."""
    slope = gdaldem("slope", dem, tmp_path / "gdal_slope.tif")
    aspect = gdaldem("aspect", dem, tmp_path / "gdal_aspect.tif")
    valid = np.isfinite(slope)
    assert valid.sum() > 0.5 * slope.size
    assert np.abs(ours["SLOPE"][valid] - slope[valid]).max() < 0.01
    with_aspect = valid & np.isfinite(aspect) & (slope > aspect_min_slope)
    assert with_aspect.mean() > 0.5
    assert angle_difference(ours["ASPECT"][with_aspect], aspect[with_aspect]).max() < 0.01
    return slope, aspect


def test_real_dem_equals_gdaldem(run_alg, tmp_path):
    result = run_alg("terrainfactors", {"INPUT": str(SRTM), "OUTPUT": str(tmp_path / "terrain.tif")})
    assert set(result) == {"OUTPUT"}
    ours = read_bands(result["OUTPUT"])
    assert list(ours) == NAMES
    slope, aspect = assert_matches_gdaldem(ours, SRTM, tmp_path)
    dataset = gdal.Open(str(SRTM))
    elevation = dataset.GetRasterBand(1).ReadAsArray().astype(np.float64)
    np.testing.assert_allclose(ours["ELEVATION"], elevation)
    with_aspect = np.isfinite(aspect)
    radians = np.radians(aspect[with_aspect])
    np.testing.assert_allclose(ours["NORTHNESS"][with_aspect], np.cos(radians), atol=1e-3)
    np.testing.assert_allclose(ours["EASTNESS"][with_aspect], np.sin(radians), atol=1e-3)
    output = gdal.Open(result["OUTPUT"])
    assert output.GetGeoTransform() == dataset.GetGeoTransform()
    assert output.GetRasterBand(2).DataType == gdal.GDT_Float32


def test_z_factor_scales_elevation_before_slope(run_alg, tmp_path):
    plain = read_bands(run_alg("terrainfactors", {
        "INPUT": str(SRTM), "OUTPUT": str(tmp_path / "m.tif")})["OUTPUT"])
    scaled = read_bands(run_alg("terrainfactors", {
        "INPUT": str(SRTM), "Z_FACTOR": 0.01, "OUTPUT": str(tmp_path / "cm.tif")})["OUTPUT"])
    np.testing.assert_allclose(scaled["ELEVATION"], 0.01 * plain["ELEVATION"], rtol=1e-6)
    expected = np.degrees(np.arctan(0.01 * np.tan(np.radians(plain["SLOPE"]))))
    np.testing.assert_allclose(scaled["SLOPE"], expected, rtol=1e-4, atol=1e-6)


def test_reference_grid_is_taken_exactly(run_alg, tmp_path):
    demo = demo_data_dir()
    dem, reference = demo / "dem_1arcsec.tif", demo / "landsat8_20171215.tif"
    result = run_alg("terrainfactors", {"INPUT": str(dem), "REFERENCE": str(reference),
                                        "OUTPUT": str(tmp_path / "terrain_on_landsat.tif")})
    output, target = gdal.Open(result["OUTPUT"]), gdal.Open(str(reference))
    assert (output.RasterXSize, output.RasterYSize) == (target.RasterXSize, target.RasterYSize)
    assert output.GetGeoTransform() == target.GetGeoTransform()
    output_crs, target_crs = osr.SpatialReference(), osr.SpatialReference()
    output_crs.ImportFromWkt(output.GetProjection())
    target_crs.ImportFromWkt(target.GetProjection())
    assert output_crs.IsSame(target_crs)
    # Independently: warp the DEM onto the Landsat grid with GDAL, then gdaldem it.
    warped = tmp_path / "dem_warped.tif"
    xmin, xres, _, ymax, _, yres = target.GetGeoTransform()
    gdal.Warp(str(warped), str(dem), outputBounds=(xmin, ymax + yres * target.RasterYSize,
                                                   xmin + xres * target.RasterXSize, ymax),
              width=target.RasterXSize, height=target.RasterYSize, dstSRS=target.GetProjection(),
              resampleAlg="bilinear", outputType=gdal.GDT_Float32, dstNodata=-9999)
    ours = read_bands(result["OUTPUT"])
    assert list(ours) == NAMES
    elevation = first_band(warped)
    valid = np.isfinite(elevation)
    assert valid.mean() > 0.9
    np.testing.assert_allclose(ours["ELEVATION"][valid], elevation[valid], atol=0.01)
    # gdaldem works in single precision: on nearly flat cells (slope 0.2 degrees here) its
    # aspect differs from a double-precision one by a few hundredths of a degree.
    assert_matches_gdaldem(ours, warped, tmp_path, aspect_min_slope=2.0)


def test_geographic_dem_gives_slopes_in_true_metres(run_alg, tmp_path):
    result = run_alg("terrainfactors", {"INPUT": str(TERRA), "OUTPUT": str(tmp_path / "terra.tif")})
    slope = read_bands(result["OUTPUT"])["SLOPE"]
    valid = slope[np.isfinite(slope)]
    assert valid.size > 0.5 * slope.size
    # Cells of ~0.0083 degrees taken as metres would give slopes near 90 degrees everywhere.
    assert valid.max() < 45.0
    assert 0.5 < np.median(valid) < 10.0


def test_a_band_the_dem_does_not_have_is_refused(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match=r"has 1 band\(s\); band 2 was asked for"):
        run_alg("terrainfactors", {"INPUT": str(SRTM), "BAND": 2, "OUTPUT": str(tmp_path / "x.tif")})
    assert not os.path.exists(tmp_path / "x.tif")


def test_a_reference_the_dem_does_not_cover_is_refused(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="does not overlap the reference raster"):
        run_alg("terrainfactors", {"INPUT": str(SRTM), "REFERENCE": str(SR_CLIP),
                                   "OUTPUT": str(tmp_path / "x.tif")})
    assert not os.path.exists(tmp_path / "x.tif")
