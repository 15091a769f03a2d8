"""Raster access through GDAL: the only package of core/ that imports osgeo.

reader.py reads (RasterInfo, RasterReader), writer.py writes (RasterWriter; RasterOutputs, the
rasters of one run), crs.py handles coordinate systems and pixel sizes, grid.py brings rasters
onto one grid (warping, extent checks, in-memory files). Callers import the names below from
core.raster_io.
"""

from osgeo import gdal, osr

# GDAL and OSR raise RuntimeError on an error (instead of returning None and printing), which
# every module here turns into a SoilMetalError naming the file.
gdal.UseExceptions()
osr.UseExceptions()

from .crs import (crs_label, is_geographic, pixel_size_metres, same_crs,  # noqa: E402
                  spatial_reference, transform_xy)
from .grid import (delete_vsimem, describe_window_extent, extents_overlap,  # noqa: E402
                   temp_vsimem_path, warp_to_grid)
from .reader import (RasterInfo, RasterReader, band_metadata_item, layer_stem,  # noqa: E402
                     open_raster, raster_info, read_band_sample, unreadable_raster)
from .writer import (BLOCK_CACHE_BYTES, CREATION_OPTIONS, NODATA, TILE, RasterOutputs,  # noqa: E402
                     RasterWriter, remove_raster)

__all__ = ["BLOCK_CACHE_BYTES", "CREATION_OPTIONS", "NODATA", "TILE", "RasterInfo", "RasterOutputs",
           "RasterReader", "RasterWriter", "band_metadata_item", "crs_label", "delete_vsimem",
           "describe_window_extent", "extents_overlap", "is_geographic", "layer_stem", "open_raster",
           "pixel_size_metres", "raster_info", "read_band_sample", "remove_raster", "same_crs",
           "spatial_reference", "temp_vsimem_path", "transform_xy", "unreadable_raster", "warp_to_grid"]
