"""Bringing rasters onto one grid: extent checks, warping (to in-memory VRTs), /vsimem files."""

import uuid

import numpy as np
from osgeo import gdal

from ..errors import SoilMetalError
from .crs import crs_label, is_geographic, transform_xy
from .reader import open_raster
from .writer import CREATION_OPTIONS, NODATA


_RESAMPLING = {"nearest": "near", "near": "near", "bilinear": "bilinear", "cubic": "cubic",
               "average": "average"}


def warp_to_grid(src_path, dst_path, ref_info, resampling="bilinear", band=None, src_nodata=None):
    """Reproject/resample a raster onto exactly ref_info's grid (CRS, geotransform, size); NaN-free
    Float32 output with NODATA where there is no source data. dst_path may be '/vsimem/...'."""
    source = open_raster(src_path)
    if band:
        # GDAL 3.6's Warp has no band list: pick the band through an in-memory VRT first.
        source = gdal.Translate("", source, options=gdal.TranslateOptions(format="VRT", bandList=[band]))
    src_crs = source.GetProjection()
    if not src_crs or not ref_info.crs_wkt:
        raise SoilMetalError(f"Raster '{src_path}' or the reference raster has no CRS; assign one "
                             "(Raster > Projections > Assign Projection) and run again.")
    xmin, ymin, xmax, ymax = ref_info.extent
    options = gdal.WarpOptions(
        format="VRT" if str(dst_path).endswith(".vrt") else "GTiff",
        outputBounds=(xmin, ymin, xmax, ymax), width=ref_info.width, height=ref_info.height,
        dstSRS=ref_info.crs_wkt, resampleAlg=_RESAMPLING[resampling], outputType=gdal.GDT_Float32,
        dstNodata=NODATA, srcNodata=src_nodata,
        multithread=True, warpOptions=["NUM_THREADS=ALL_CPUS"],
        creationOptions=None if str(dst_path).endswith(".vrt") else CREATION_OPTIONS)
    try:
        result = gdal.Warp(str(dst_path), source, options=options)
    except RuntimeError as error:
        raise SoilMetalError(f"Cannot reproject '{src_path}' onto the reference grid: {error}.") from None
    if result is None:
        raise SoilMetalError(f"Cannot reproject '{src_path}' onto the reference grid.")
    # Copy band descriptions so factor names survive the warp.
    for index in range(1, source.RasterCount + 1):
        description = source.GetRasterBand(index).GetDescription()
        if description:
            result.GetRasterBand(index).SetDescription(description)
    result.FlushCache()
    result = None
    return str(dst_path)


def extents_overlap(info_a, info_b):
    """True when two rasters' extents intersect, after bringing b's corners into a's CRS."""
    xmin, ymin, xmax, ymax = info_b.extent
    corner_x = np.array([xmin, xmax, xmin, xmax, (xmin + xmax) / 2])
    corner_y = np.array([ymin, ymin, ymax, ymax, (ymin + ymax) / 2])
    tx, ty = transform_xy(corner_x, corner_y, info_b.crs_wkt, info_a.crs_wkt)
    if not np.any(np.isfinite(tx)):
        return False
    axmin, aymin, axmax, aymax = info_a.extent
    return not (np.nanmax(tx) < axmin or np.nanmin(tx) > axmax or
                np.nanmax(ty) < aymin or np.nanmin(ty) > aymax)


def delete_vsimem(path):
    """Free an in-memory GDAL file."""
    try:
        gdal.Unlink(str(path))
    except RuntimeError:
        pass


def temp_vsimem_path(suffix=".tif"):
    """A unique in-memory GDAL path."""
    return f"/vsimem/soilmetal_{uuid.uuid4().hex}{suffix}"


def describe_window_extent(info):
    """A readable 'xmin, ymin : xmax, ymax (CRS)' string for messages."""
    xmin, ymin, xmax, ymax = info.extent
    digits = 6 if is_geographic(info.crs_wkt) else 1
    return (f"{xmin:.{digits}f}, {ymin:.{digits}f} : {xmax:.{digits}f}, {ymax:.{digits}f} "
            f"({crs_label(info.crs_wkt)})")
