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


def write_points(path, xy, fields, epsg=32649, layer_name="samples"):
    """A GeoPackage point layer: xy [(x, y), ...] and fields {name: values}; a field's type comes
    from its first non-None value (text, integer or real), None values are left null."""
    from osgeo import ogr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    dataset = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = dataset.CreateLayer(layer_name, srs, ogr.wkbPoint)
    for name, values in fields.items():
        sample = next((v for v in values if v is not None), 0.0)
        kind = (ogr.OFTString if isinstance(sample, str) else
                ogr.OFTInteger if isinstance(sample, (int, np.integer)) and not isinstance(sample, bool)
                else ogr.OFTReal)
        layer.CreateField(ogr.FieldDefn(name, kind))
    for index, (x, y) in enumerate(xy):
        feature = ogr.Feature(layer.GetLayerDefn())
        for name, values in fields.items():
            value = values[index]
            if value is not None and not (isinstance(value, float) and value != value):
                feature.SetField(name, value if isinstance(value, (str, int, np.integer)) else float(value))
        geometry = ogr.Geometry(ogr.wkbPoint)
        geometry.AddPoint_2D(float(x), float(y))
        feature.SetGeometry(geometry)
        layer.CreateFeature(feature)
    dataset = None
    return str(path)


def read_bands(path):
    """{band description (or 'band N' when it has none): float64 array, nodata as NaN}, in band order."""
    dataset = gdal.Open(str(path))  # kept alive while its bands are read (GDAL 3.6 crashes otherwise)
    out = {}
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        values = band.ReadAsArray().astype(np.float64)
        nodata = band.GetNoDataValue()
        if nodata is not None:
            values[values == nodata] = np.nan
        out[band.GetDescription() or f"band {index}"] = values
    return out
