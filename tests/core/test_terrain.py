"""Terrain factors against `gdaldem` (Horn) on real DEMs, geographic DEMs in true metres,
aspect conventions on planes, nodata holes, blocks with halos and the REFERENCE grid."""

import math
import os
import subprocess

import numpy as np
import pytest
from osgeo import gdal, osr

from core.science.terrain import pad_edges, terrain_factors
from core.workflows.terrain_factors import run_terrain_factors
from core.errors import Cancelled, SoilMetalError
from core.monitor import Monitor
from rasters import read_bands as read_output
from support import REAL_DATA

gdal.UseExceptions()

AHN = str(REAL_DATA / "meuse/geomla_ahn.asc")            # centimetres, no .prj
SRTM = str(REAL_DATA / "meuse/Meuse_SRTMGL1.2.tif")
TERRA = str(REAL_DATA / "dem/terra_elev.tif")       # EPSG:4326, ~1 km
TAYLOR = str(REAL_DATA / "dem/taylor_dem_small.tif")  # custom TM, 240 m
NAMES = ["ELEVATION", "SLOPE", "ASPECT", "NORTHNESS", "EASTNESS"]
WGS84_A, WGS84_F = 6378137.0, 1 / 298.257223563


def gdaldem(mode, source, target, *options):
    """Run the gdaldem command line tool; the result as float64 with nodata as NaN."""
    subprocess.run(["gdaldem", mode, "-q", *options, str(source), str(target)], check=True)
    dataset = gdal.Open(str(target))
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray().astype(np.float64)
    values[values == band.GetNoDataValue()] = np.nan
    return values


def angle_difference(a, b):
    """Smallest absolute difference between two angles in degrees."""
    return np.abs((a - b + 180.0) % 360.0 - 180.0)


def interior(shape):
    """Boolean mask of the cells not on the raster's border."""
    mask = np.zeros(shape, dtype=bool)
    mask[1:-1, 1:-1] = True
    return mask


def not_corners(shape):
    """Boolean mask of every cell but the four corners."""
    mask = np.ones(shape, dtype=bool)
    mask[[0, 0, -1, -1], [0, -1, 0, -1]] = False
    return mask


def with_epsg(source, target, epsg):
    """A GeoTIFF copy of a raster with a CRS assigned."""
    gdal.Translate(str(target), source, outputSRS=f"EPSG:{epsg}")
    return str(target)


def write_dem(path, z, geotransform, epsg=32631, nodata=None):
    """A Float32 GeoTIFF DEM from a 2-D array."""
    rows, cols = z.shape
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, 1, gdal.GDT_Float32)
    dataset.SetGeoTransform(geotransform)
    if epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        dataset.SetProjection(srs.ExportToWkt())
    band = dataset.GetRasterBand(1)
    band.WriteArray(z)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    dataset = None
    return str(path)


def compare_with_gdaldem(dem, output, tmp_path, scale_options=()):
    """Assert SLOPE/ASPECT equal gdaldem Horn at interior cells (and at edges with -compute_edges)."""
    ours = read_output(output)
    slope = gdaldem("slope", dem, tmp_path / "slope.tif", *scale_options)
    aspect = gdaldem("aspect", dem, tmp_path / "aspect.tif")
    valid = ~np.isnan(slope)
    assert valid[interior(slope.shape)].mean() > 0.5      # the comparison covers most cells
    assert not np.isnan(ours["SLOPE"][valid]).any()
    assert np.abs(ours["SLOPE"][valid] - slope[valid]).max() < 0.01
    with_aspect = valid & ~np.isnan(aspect)
    assert angle_difference(ours["ASPECT"][with_aspect], aspect[with_aspect]).max() < 0.01
    # gdaldem marks flat cells as nodata in aspect; so do we (and northness/eastness are 0).
    flat = valid & np.isnan(aspect)
    assert np.isnan(ours["ASPECT"][flat]).all()
    assert (ours["NORTHNESS"][flat] == 0).all() and (ours["EASTNESS"][flat] == 0).all()
    # Edges: gdaldem -compute_edges extrapolates the same way (it treats corners differently).
    slope_edges = gdaldem("slope", dem, tmp_path / "slope_edges.tif", "-compute_edges",
                          *scale_options)
    both = ~np.isnan(slope_edges) & not_corners(slope.shape)
    assert np.array_equal(np.isnan(ours["SLOPE"]) & both, np.zeros_like(both))
    assert np.abs(ours["SLOPE"][both] - slope_edges[both]).max() < 0.01
    return ours


@pytest.mark.parametrize("dem", [SRTM, TAYLOR])
def test_projected_dem_matches_gdaldem(tmp_path, dem):
    output = tmp_path / "terrain.tif"
    result = run_terrain_factors(dem, str(output))
    assert result.factors == NAMES and result.warnings == []
    ours = compare_with_gdaldem(dem, output, tmp_path)
    source = gdal.Open(dem)
    elevation = source.GetRasterBand(1).ReadAsArray().astype(np.float64)
    np.testing.assert_allclose(ours["ELEVATION"], elevation, rtol=1e-7)
    # These DEMs have no nodata: every cell, edges included, has a slope.
    assert np.isfinite(ours["SLOPE"]).all() and np.isfinite(ours["NORTHNESS"]).all()
    aspect = np.radians(ours["ASPECT"])
    has_aspect = np.isfinite(aspect)
    np.testing.assert_allclose(ours["NORTHNESS"][has_aspect], np.cos(aspect[has_aspect]), atol=1e-5)
    np.testing.assert_allclose(ours["EASTNESS"][has_aspect], np.sin(aspect[has_aspect]), atol=1e-5)
    output_ds = gdal.Open(str(output))
    assert output_ds.GetGeoTransform() == pytest.approx(source.GetGeoTransform())
    assert osr.SpatialReference(output_ds.GetProjection()).IsSame(
        osr.SpatialReference(source.GetProjection()))
    assert output_ds.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"


def test_meuse_ahn_in_centimetres_as_is_and_with_crs(tmp_path):
    warnings = []
    output = tmp_path / "ahn_raw.tif"
    result = run_terrain_factors(AHN, str(output), monitor=Monitor(warning=warnings.append))
    assert len(warnings) == 1 and "no CRS" in warnings[0] and result.warnings == warnings
    compare_with_gdaldem(AHN, output, tmp_path)     # both in raw cm-over-metres units
    # With the CRS from ahn.rdc assigned and the centimetres converted to metres.
    dem = with_epsg(AHN, tmp_path / "ahn_28992.tif", 28992)
    output_m = tmp_path / "ahn_m.tif"
    result = run_terrain_factors(dem, str(output_m), z_factor=0.01)
    assert result.warnings == []
    ours = compare_with_gdaldem(dem, output_m, tmp_path, scale_options=("-s", "100"))
    valid = np.isfinite(ours["SLOPE"])
    assert np.nanmax(ours["ELEVATION"]) == pytest.approx(62.20, abs=0.01)
    assert 0 < np.median(ours["SLOPE"][valid]) < 5          # a floodplain: gentle slopes
    # The raw-unit run is 100x steeper in tangent than the metre run.
    raw = read_output(output)
    both = valid & (ours["SLOPE"] > 0.05)
    np.testing.assert_allclose(np.tan(np.radians(raw["SLOPE"][both])),
                               100 * np.tan(np.radians(ours["SLOPE"][both])), rtol=1e-4)


def metres_per_degree(latitude_deg):
    """(metres per degree of longitude, of latitude) on WGS84 at a latitude."""
    phi = math.radians(latitude_deg)
    e2 = WGS84_F * (2 - WGS84_F)
    normal = WGS84_A / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    meridian = WGS84_A * (1 - e2) / (1 - e2 * math.sin(phi) ** 2) ** 1.5
    return math.radians(1) * normal * math.cos(phi), math.radians(1) * meridian


def test_geographic_dem_slopes_are_in_true_metres(tmp_path):
    output = tmp_path / "terra.tif"
    run_terrain_factors(TERRA, str(output))
    ours = read_output(output)
    slope = ours["SLOPE"]
    valid = np.isfinite(slope)
    assert valid.sum() > 4000
    assert 0.5 < np.median(slope[valid]) < 5 and np.max(slope[valid]) < 30
    source = gdal.Open(TERRA)
    gt = source.GetGeoTransform()
    elevation = source.GetRasterBand(1).ReadAsArray()
    nodata = source.GetRasterBand(1).GetNoDataValue()
    # Reference per row: the same DEM with a metric geotransform for that row's latitude.
    for row in (12, 46, 80):
        latitude = gt[3] + (row + 0.5) * gt[5]
        x_metres, y_metres = metres_per_degree(latitude)
        metric = write_dem(tmp_path / f"metric_{row}.tif", elevation.astype(np.float32),
                           (0.0, gt[1] * x_metres, 0.0, 0.0, 0.0, gt[5] * y_metres),
                           epsg=None, nodata=nodata)
        reference = gdaldem("slope", metric, tmp_path / f"slope_{row}.tif")[row]
        ok = np.isfinite(reference)
        assert ok.sum() > 20
        assert np.abs(slope[row][ok] - reference[ok]).max() < 0.01
    # The same DEM read as if degrees were metres would be nearly vertical everywhere.
    # (-s 1 said outright: GDAL 3.11+ picks the degree scale itself for a geographic DEM.)
    naive = gdaldem("slope", TERRA, tmp_path / "naive.tif", "-s", "1")
    assert np.nanmedian(naive) > 80


def test_custom_projected_crs_is_kept(tmp_path):
    output = tmp_path / "taylor.tif"
    run_terrain_factors(TAYLOR, str(output))
    source_srs = osr.SpatialReference(gdal.Open(TAYLOR).GetProjection())
    assert source_srs.GetAuthorityCode(None) is None      # really an unnamed CRS
    assert osr.SpatialReference(gdal.Open(str(output)).GetProjection()).IsSame(source_srs)
    slope = read_output(output)["SLOPE"]
    assert 0.2 < np.median(slope) < 5 and slope.max() < 30


def plane(slope_east=0.0, slope_north=0.0, rows=6, cols=7, cell=30.0):
    """A DEM z = 100 + slope_east * x + slope_north * y on a north-up grid."""
    x = (np.arange(cols) + 0.5) * cell
    y = -(np.arange(rows) + 0.5) * cell          # rows run southwards
    return 100.0 + slope_east * x[None, :] + slope_north * y[:, None]


@pytest.mark.parametrize("slope_east, slope_north, aspect, northness, eastness", [
    (-0.1, 0.0, 90.0, 0.0, 1.0),            # down to the east
    (0.1, 0.0, 270.0, 0.0, -1.0),           # down to the west
    (0.0, 0.2, 180.0, -1.0, 0.0),           # down to the south
    (0.0, -0.2, 0.0, 1.0, 0.0),             # down to the north
    (0.1, 0.1, 225.0, -math.sqrt(0.5), -math.sqrt(0.5)),   # down to the south-west
])
def test_aspect_conventions_on_planes(tmp_path, slope_east, slope_north, aspect, northness,
                                      eastness):
    z = plane(slope_east, slope_north)
    path = write_dem(tmp_path / "plane.tif", z.astype(np.float32), (0, 30, 0, 0, 0, -30))
    output = tmp_path / "out.tif"
    run_terrain_factors(path, str(output))
    ours = read_output(output)
    expected_slope = math.degrees(math.atan(math.hypot(slope_east, slope_north)))
    # Every cell, edges and corners included (extrapolation keeps a plane a plane).
    np.testing.assert_allclose(ours["SLOPE"], expected_slope, atol=1e-4)
    assert angle_difference(ours["ASPECT"], aspect).max() < 1e-3
    assert ((ours["ASPECT"] >= 0) & (ours["ASPECT"] < 360)).all()
    np.testing.assert_allclose(ours["NORTHNESS"], northness, atol=1e-6)
    np.testing.assert_allclose(ours["EASTNESS"], eastness, atol=1e-6)
    # The array function agrees.
    arrays = terrain_factors(pad_edges(z), 30.0, 30.0)
    slope_array, aspect_array = arrays["SLOPE"], arrays["ASPECT"]
    np.testing.assert_allclose(slope_array, expected_slope, atol=1e-9)
    assert angle_difference(aspect_array, aspect).max() < 1e-9


def test_flat_dem_has_no_aspect(tmp_path):
    path = write_dem(tmp_path / "flat.tif", np.full((5, 6), 42.0, np.float32), (0, 10, 0, 0, 0, -10))
    output = tmp_path / "out.tif"
    run_terrain_factors(path, str(output))
    raw = gdal.Open(str(output))
    aspect = raw.GetRasterBand(3).ReadAsArray()
    assert (aspect == raw.GetRasterBand(3).GetNoDataValue()).all()
    ours = read_output(output)
    assert (ours["SLOPE"] == 0).all()
    assert (ours["NORTHNESS"] == 0).all() and (ours["EASTNESS"] == 0).all()
    assert (ours["ELEVATION"] == 42).all()


def test_per_row_cell_sizes_in_the_array_function():
    z = plane(slope_east=0.05, slope_north=0.0, rows=4, cols=5)
    # Doubling a row's cell width halves its x gradient.
    dx = np.array([30.0, 60.0, 30.0, 60.0])
    slope = terrain_factors(pad_edges(z), dx, 30.0)["SLOPE"]
    np.testing.assert_allclose(slope[0], math.degrees(math.atan(0.05)))
    np.testing.assert_allclose(slope[1], math.degrees(math.atan(0.025)))


def test_nodata_hole_matches_gdaldem_compute_edges(tmp_path):
    source = gdal.Open(SRTM)
    z = source.GetRasterBand(1).ReadAsArray().astype(np.float32)
    z[40:43, 30:33] = -32768
    z[10, 50] = -32768
    z[0, 5] = -32768                          # on the top edge
    dem = write_dem(tmp_path / "holes.tif", z, source.GetGeoTransform(), epsg=None, nodata=-32768)
    output = tmp_path / "out.tif"
    run_terrain_factors(dem, str(output))
    ours = read_output(output)
    hole = z == -32768
    for name in NAMES:
        assert np.isnan(ours[name][hole]).all(), name
    assert np.isfinite(ours["SLOPE"][~hole]).all()       # neighbours of holes keep a slope
    reference = gdaldem("slope", dem, tmp_path / "slope.tif", "-compute_edges")
    assert np.array_equal(np.isnan(reference), hole)
    compare = ~hole & not_corners(z.shape)
    assert np.abs(ours["SLOPE"][compare] - reference[compare]).max() < 0.01


def test_blocks_with_halo_equal_one_block(tmp_path):
    whole, tiled = tmp_path / "whole.tif", tmp_path / "tiled.tif"
    run_terrain_factors(TAYLOR, str(whole))
    progress = []
    run_terrain_factors(TAYLOR, str(tiled), block_size=64,
                        monitor=Monitor(progress=progress.append))
    assert len(progress) > 8 and progress[-1] == pytest.approx(100)
    a, b = read_output(whole), read_output(tiled)
    for name in NAMES:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def reference_grid(tmp_path):
    """A 500 m UTM 32N reference raster over Luxembourg (inside terra_elev.tif)."""
    path = tmp_path / "reference.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), 48, 40, 1, gdal.GDT_Byte)
    dataset.SetGeoTransform((281000.0, 500.0, 0.0, 5535000.0, 0.0, -500.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    dataset.SetProjection(srs.ExportToWkt())
    dataset = None
    return str(path)


def test_reference_puts_output_on_reference_grid(tmp_path):
    reference = reference_grid(tmp_path)
    output = tmp_path / "terrain.tif"
    run_terrain_factors(TERRA, str(output), reference_path=reference)
    out_ds, ref_ds = gdal.Open(str(output)), gdal.Open(reference)
    assert (out_ds.RasterXSize, out_ds.RasterYSize) == (ref_ds.RasterXSize, ref_ds.RasterYSize)
    assert out_ds.GetGeoTransform() == ref_ds.GetGeoTransform()
    assert osr.SpatialReference(out_ds.GetProjection()).IsSame(
        osr.SpatialReference(ref_ds.GetProjection()))
    ours = read_output(output)
    # Independent: GDAL's own bilinear warp onto the grid, then gdaldem on it.
    warped = tmp_path / "warped.tif"
    gdal.Warp(str(warped), TERRA, dstSRS="EPSG:32632", outputBounds=(281000, 5515000, 305000, 5535000),
              width=48, height=40, resampleAlg="bilinear", outputType=gdal.GDT_Float32,
              dstNodata=-9999)
    warped_ds = gdal.Open(str(warped))
    elevation = warped_ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    elevation[elevation == -9999] = np.nan
    assert np.isfinite(elevation).mean() > 0.5
    np.testing.assert_allclose(ours["ELEVATION"], elevation, rtol=1e-6)
    slope = gdaldem("slope", warped, tmp_path / "slope.tif")
    ok = np.isfinite(slope)
    assert ok.sum() > 500
    assert np.abs(ours["SLOPE"][ok] - slope[ok]).max() < 0.01
    assert not list(tmp_path.glob("*.partial.tif"))


def test_reference_with_same_grid_other_crs_definition(tmp_path):
    reference = with_epsg(AHN, tmp_path / "ahn_28992.tif", 28992)
    output = tmp_path / "srtm_on_ahn.tif"
    run_terrain_factors(SRTM, str(output), reference_path=reference, resampling="cubic")
    out_ds, ref_ds = gdal.Open(str(output)), gdal.Open(reference)
    assert out_ds.GetGeoTransform() == ref_ds.GetGeoTransform()
    assert (out_ds.RasterXSize, out_ds.RasterYSize) == (ref_ds.RasterXSize, ref_ds.RasterYSize)
    elevation = read_output(output)["ELEVATION"]
    srtm_ds = gdal.Open(SRTM)
    srtm = srtm_ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    # Same cells (Bessel + TOWGS84 vs EPSG:28992 differ by at most centimetres).
    assert np.nanmax(np.abs(elevation - srtm)[2:-2, 2:-2]) < 1.0


def test_errors_and_cancel(tmp_path):
    with pytest.raises(SoilMetalError, match="1 band"):
        run_terrain_factors(SRTM, str(tmp_path / "a.tif"), band=2)
    south_up = write_dem(tmp_path / "south_up.tif", plane(0.1).astype(np.float32),
                         (0, 30, 0, 0, 0, 30))
    with pytest.raises(SoilMetalError, match="north-up"):
        run_terrain_factors(south_up, str(tmp_path / "b.tif"))
    output = tmp_path / "c.tif"
    with pytest.raises(Cancelled):
        run_terrain_factors(TAYLOR, str(output), block_size=64,
                            monitor=Monitor(is_cancelled=lambda: True))
    assert not output.exists()
    assert sorted(os.listdir(tmp_path)) == ["south_up.tif"]


def test_run_statistics_count_the_valid_cells(tmp_path):
    z = np.full((6, 7), 100.0, np.float32)
    z[2, 3] = -32768
    path = write_dem(tmp_path / "hole.tif", z, (0, 30, 0, 0, 0, -30), epsg=None, nodata=-32768)
    result = run_terrain_factors(path, str(tmp_path / "out.tif"))
    rows = {row["band"]: row for row in result.statistics}
    assert rows["ELEVATION"]["valid"] == 41
    assert rows["ELEVATION"]["min"] == rows["ELEVATION"]["max"] == rows["ELEVATION"]["mean"] == 100.0
    assert rows["ASPECT"]["valid"] == 0 and np.isnan(rows["ASPECT"]["mean"])   # flat: no aspect
