"""Raster I/O: naming, nodata, atomic writing, grids, geographic pixel sizes, block iteration."""

import os

import numpy as np
import pytest
from osgeo import gdal

from core import raster_io
from core.blocks import Window, iter_blocks
from core.errors import Cancelled
from core.monitor import Monitor

from rasters import write_raster


def test_band_names_fall_back_to_layer_name(tmp_path):
    path = write_raster(tmp_path / "factors.tif", [np.zeros((2, 2)), np.ones((2, 2))], ["NDVI", None])
    assert raster_io.raster_info(path).band_names == ["NDVI", "factors_b2"]
    assert raster_io.raster_info(path, "my layer").band_names == ["NDVI", "my layer_b2"]


def test_reader_turns_nodata_into_nan(tmp_path):
    data = np.arange(12, dtype=float).reshape(3, 4)
    data[1, 2] = -9999.0
    path = write_raster(tmp_path / "a.tif", [data], ["A"])
    with raster_io.RasterReader(path) as reader:
        out = reader.read([1], Window(1, 1, 3, 2))
    assert out.shape == (1, 2, 3)
    assert np.isnan(out[0, 0, 1]) and out[0, 1, 2] == 11.0


def test_writer_is_tiled_deflate_with_names_and_nodata(tmp_path):
    target = tmp_path / "out.tif"
    with raster_io.RasterWriter(target, 600, 300, (0, 30, 0, 0, 0, -30), "EPSG:32649" and
                                raster_io.spatial_reference("EPSG:32649").ExportToWkt(), ["X", "Y"]) as writer:
        for window in iter_blocks(600, 300, block_size=256):
            block = np.full((window.ysize, window.xsize), 2.5)
            block[0, 0] = np.nan
            writer.write(0, window, block)
            writer.write(1, window, block * 2)
    ds = gdal.Open(str(target))
    assert ds.GetRasterBand(1).GetDescription() == "X"
    assert ds.GetRasterBand(2).GetNoDataValue() == raster_io.NODATA
    assert ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert ds.GetMetadata("IMAGE_STRUCTURE")["INTERLEAVE"] == "BAND"
    assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]
    array = ds.GetRasterBand(2).ReadAsArray()
    assert array[0, 0] == raster_io.NODATA and array[5, 5] == 5.0
    assert [p for p in os.listdir(tmp_path) if "partial" in p] == []


def test_writer_leaves_nothing_behind_on_error(tmp_path):
    target = tmp_path / "broken.tif"
    with pytest.raises(RuntimeError):
        with raster_io.RasterWriter(target, 10, 10, (0, 1, 0, 0, 0, -1), "", ["A"]):
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_block_iterator_covers_everything_reports_progress_and_cancels():
    progress = []
    seen = np.zeros((700, 3000), dtype=int)
    for w in iter_blocks(3000, 700, Monitor(progress=progress.append), block_size=512):
        seen[w.yoff:w.yoff + w.ysize, w.xoff:w.xoff + w.xsize] += 1
    assert (seen == 1).all()
    assert progress[-1] == pytest.approx(100.0) and progress == sorted(progress)
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 2
    with pytest.raises(Cancelled):
        for _ in iter_blocks(3000, 3000, Monitor(is_cancelled=cancelled), block_size=256):
            pass


def test_child_monitor_maps_progress():
    seen = []
    child = Monitor(progress=seen.append).child(50, 100)
    child.set_progress(50)
    assert seen == [75.0]


def test_geographic_pixel_size_in_metres(tmp_path):
    path = write_raster(tmp_path / "geo.tif", [np.zeros((3, 3))], ["A"], origin=(109.0, 33.7 + 1.5 / 3600),
                        size=1 / 3600, epsg=4326)
    dx, dy = raster_io.pixel_size_metres(raster_io.raster_info(path))
    # One arc-second at 33.7 N: 30.8 m north-south, about 25.7 m east-west.
    assert dy[1] == pytest.approx(30.83, abs=0.05)
    assert dx[1] == pytest.approx(25.74, abs=0.05)


def test_warp_to_grid_matches_reference(tmp_path):
    ref = write_raster(tmp_path / "ref.tif", [np.zeros((40, 50))], ["R"])
    src = write_raster(tmp_path / "src.tif", [np.ones((200, 200))], ["DEM"], origin=(108.95, 33.75),
                       size=0.001, epsg=4326)
    ref_info = raster_io.raster_info(ref)
    out = raster_io.warp_to_grid(src, str(tmp_path / "w.tif"), ref_info)
    assert raster_io.raster_info(out).same_grid(ref_info)
    assert raster_io.raster_info(out).band_names == ["DEM"]


def test_block_cache_is_bounded_while_writing_and_restored_after(tmp_path):
    before = gdal.GetCacheMax()
    gdal.SetCacheMax(1024 * 1024 * 1024)
    try:
        with raster_io.RasterWriter(tmp_path / "a.tif", 10, 10, (0, 1, 0, 0, 0, -1), "", ["A"]):
            with raster_io.RasterWriter(tmp_path / "b.tif", 10, 10, (0, 1, 0, 0, 0, -1), "", ["B"]):
                assert gdal.GetCacheMax() == raster_io.BLOCK_CACHE_BYTES
            assert gdal.GetCacheMax() == raster_io.BLOCK_CACHE_BYTES
        assert gdal.GetCacheMax() == 1024 * 1024 * 1024
    finally:
        gdal.SetCacheMax(before)
