"""Helpers of the real-scene tests: a reflectance raster written on another raster's grid."""

import numpy as np
from osgeo import gdal


def write_like(source, values, path, names):
    """Write float arrays (bands, rows, cols; NaN = nodata -9999) on the grid of an open GDAL dataset."""
    out = gdal.GetDriverByName("GTiff").Create(str(path), source.RasterXSize, source.RasterYSize,
                                               len(values), gdal.GDT_Float32)
    out.SetGeoTransform(source.GetGeoTransform())
    out.SetProjection(source.GetProjection())
    for index, name in enumerate(names):
        band = out.GetRasterBand(index + 1)
        band.WriteArray(np.where(np.isfinite(values[index]), values[index], -9999))
        band.SetNoDataValue(-9999)
        band.SetDescription(name)
    out = None
    return str(path)
