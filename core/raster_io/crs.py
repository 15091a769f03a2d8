"""Coordinate reference systems: parsing, comparison, labels, point transforms, pixel sizes."""

import numpy as np
from osgeo import osr

from ..errors import SoilMetalError


def spatial_reference(wkt):
    """An osr.SpatialReference in x=easting/longitude axis order, or None for an empty CRS."""
    if not wkt:
        return None
    srs = osr.SpatialReference()
    try:
        srs.SetFromUserInput(wkt)
    except RuntimeError as error:
        raise SoilMetalError(f"Cannot understand the coordinate reference system: {error}.") from None
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def same_crs(wkt_a, wkt_b):
    """True when two CRS definitions describe the same system (both empty counts as same)."""
    if not wkt_a and not wkt_b:
        return True
    if not wkt_a or not wkt_b:
        return False
    if wkt_a == wkt_b:
        return True
    return bool(spatial_reference(wkt_a).IsSame(spatial_reference(wkt_b)))


def is_geographic(crs_wkt):
    """True when the CRS has angular (degree) coordinates."""
    srs = spatial_reference(crs_wkt)
    return bool(srs is not None and srs.IsGeographic())


def crs_label(crs_wkt):
    """A short human name for a CRS: 'EPSG:32649' when known, else its name."""
    srs = spatial_reference(crs_wkt)
    if srs is None:
        return "no CRS"
    srs_copy = srs.Clone()
    try:
        srs_copy.AutoIdentifyEPSG()
    except RuntimeError:
        pass
    code = srs_copy.GetAuthorityCode(None)
    name = srs.GetName() or "unnamed CRS"
    return f"EPSG:{code}" if code else name


def transform_xy(x, y, src_wkt, dst_wkt):
    """Transform coordinate arrays from one CRS to another (x = easting/longitude)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if same_crs(src_wkt, dst_wkt) or not src_wkt or not dst_wkt:
        return x.copy(), y.copy()
    transform = osr.CoordinateTransformation(spatial_reference(src_wkt), spatial_reference(dst_wkt))
    if x.size == 0:
        return x.copy(), y.copy()
    try:
        points = np.array(transform.TransformPoints(np.column_stack([x, y]).tolist()), dtype=np.float64)
    except RuntimeError:
        # Points that cannot be transformed (outside the CRS's domain) become NaN, one by one.
        points = np.full((x.size, 3), np.nan)
        for index, (px, py) in enumerate(zip(x, y)):
            try:
                points[index] = transform.TransformPoint(float(px), float(py))
            except RuntimeError:
                pass
    result_x, result_y = points[:, 0], points[:, 1]
    bad = ~np.isfinite(result_x) | ~np.isfinite(result_y) | (np.abs(result_x) > 1e30)
    result_x[bad] = np.nan
    result_y[bad] = np.nan
    return result_x, result_y


def pixel_size_metres(info):
    """(dx, dy) in metres for each row of the raster: arrays of length height.

    Projected grids: the pixel size times the CRS's linear unit. Geographic grids: the
    ellipsoid's metres per degree at each row's centre latitude, so slopes are in true metres.
    """
    gt = info.geotransform
    rows = np.arange(info.height, dtype=np.float64)
    srs = spatial_reference(info.crs_wkt)
    if srs is None or not srs.IsGeographic():
        unit = srs.GetLinearUnits() if srs is not None else 1.0
        return (np.full(info.height, abs(gt[1]) * unit), np.full(info.height, abs(gt[5]) * unit))
    semi_major = srs.GetSemiMajor()
    inverse_flattening = srs.GetInvFlattening()
    flattening = 1.0 / inverse_flattening if inverse_flattening else 0.0
    e2 = flattening * (2.0 - flattening)
    angular_unit = srs.GetAngularUnits()  # radians per CRS unit (degrees, grads, ...)
    latitude = (gt[3] + (rows + 0.5) * gt[5]) * angular_unit
    sin2 = np.sin(latitude) ** 2
    meridian_radius = semi_major * (1 - e2) / (1 - e2 * sin2) ** 1.5
    normal_radius = semi_major / np.sqrt(1 - e2 * sin2)
    dy = abs(gt[5]) * angular_unit * meridian_radius
    dx = abs(gt[1]) * angular_unit * normal_radius * np.cos(latitude)
    return dx, dy
