"""Small rasters for tests, written with GDAL directly (independent of the code under test)."""

import numpy as np
from osgeo import gdal, osr


def wkt(epsg):
    """WKT of an EPSG code."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def write_raster(path, arrays, names, origin=(300000.0, 3730000.0), size=30.0, epsg=32649, nodata=-9999.0):
    """A Float32 GeoTIFF with one band per array, named by `names` (None = no description)."""
    rows, cols = np.asarray(arrays[0]).shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, len(arrays), gdal.GDT_Float32)
    ds.SetGeoTransform((origin[0], size, 0, origin[1], 0, -size))
    ds.SetProjection(wkt(epsg))
    for i, (array, name) in enumerate(zip(arrays, names), start=1):
        band = ds.GetRasterBand(i)
        band.WriteArray(np.asarray(array))
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if name:
            band.SetDescription(name)
    ds = None
    return str(path)
