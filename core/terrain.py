"""Terrain factors from a DEM: elevation, slope and aspect (Horn 1981), northness, eastness.

Slope is in degrees; aspect is the downslope direction in degrees clockwise from north (NaN
where flat); northness = cos(aspect) and eastness = sin(aspect), 0 where flat. Edge cells are
computed as `gdaldem -compute_edges` does: missing rows/columns are extrapolated linearly and
a nodata neighbour takes the centre cell's value.
"""

import os
import shutil
import tempfile

import numpy as np

from . import raster_io
from .blocks import iter_blocks
from .errors import SoilMetalError
from .monitor import NULL_MONITOR

TERRAIN_FACTORS = ("ELEVATION", "SLOPE", "ASPECT", "NORTHNESS", "EASTNESS")
RESAMPLING_METHODS = ("bilinear", "cubic")


def pad_edges(z, top=True, bottom=True, left=True, right=True):
    """Grow z (rows, cols) by one linearly extrapolated row/column on each requested side.

    The new row is 2 * edge - next (a plane stays a plane); with a single row/column the edge
    is replicated. NaN in either source cell gives NaN.
    """
    z = np.asarray(z, dtype=np.float64)
    if top or bottom:
        parts = []
        if top:
            parts.append(2.0 * z[:1] - z[1:2] if z.shape[0] > 1 else z[:1])
        parts.append(z)
        if bottom:
            parts.append(2.0 * z[-1:] - z[-2:-1] if z.shape[0] > 1 else z[-1:])
        z = np.concatenate(parts, axis=0)
    if left or right:
        parts = []
        if left:
            parts.append(2.0 * z[:, :1] - z[:, 1:2] if z.shape[1] > 1 else z[:, :1])
        parts.append(z)
        if right:
            parts.append(2.0 * z[:, -1:] - z[:, -2:-1] if z.shape[1] > 1 else z[:, -1:])
        z = np.concatenate(parts, axis=1)
    return z


def horn_gradient(z_padded, dx, dy):
    """Horn (1981) gradient of a padded DEM (rows+2, cols+2) -> (dz/d east, dz/d north), each (rows, cols).

    dx, dy: cell width and height in the DEM's horizontal units (scalars, or arrays of length
    rows for grids whose cell size varies by row, such as geographic DEMs in metres). Rows run
    north to south. A NaN neighbour of a valid cell takes the cell's value; a NaN cell stays NaN.
    """
    zp = np.asarray(z_padded, dtype=np.float64)
    rows, cols = zp.shape[0] - 2, zp.shape[1] - 2
    if rows < 1 or cols < 1:
        raise ValueError("horn_gradient needs a padded array of at least 3 x 3")
    centre = zp[1:-1, 1:-1]

    def neighbour(dr, dc):
        window = zp[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
        return np.where(np.isnan(window), centre, window) if has_nan else window

    has_nan = bool(np.isnan(zp).any())
    a, b, c = neighbour(-1, -1), neighbour(-1, 0), neighbour(-1, 1)
    d, f = neighbour(0, -1), neighbour(0, 1)
    g, h, i = neighbour(1, -1), neighbour(1, 0), neighbour(1, 1)
    dx = _per_row(dx, rows)
    dy = _per_row(dy, rows)
    east = ((c + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * dx)
    north = ((a + 2.0 * b + c) - (g + 2.0 * h + i)) / (8.0 * dy)
    if has_nan:
        # Horn's stencil skips the centre, so a nodata cell must be masked explicitly.
        missing = np.isnan(centre)
        east[missing] = np.nan
        north[missing] = np.nan
    return east, north


def _per_row(spacing, rows):
    """A scalar, or a per-row array reshaped to broadcast over (rows, cols)."""
    spacing = np.asarray(spacing, dtype=np.float64)
    if spacing.ndim == 0:
        return spacing
    if spacing.shape != (rows,):
        raise ValueError(f"per-row cell size must have length {rows}, got {spacing.shape}")
    return spacing[:, None]


def factors_from_gradient(east, north):
    """(dz/d east, dz/d north) arrays -> dict SLOPE, ASPECT, NORTHNESS, EASTNESS (same shape)."""
    steepness = np.hypot(east, north)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.degrees(np.arctan(steepness))
        flat = steepness == 0
        # Downslope direction (-east, -north) as an azimuth clockwise from north.
        aspect = np.degrees(np.arctan2(-east, -north)) % 360.0
        aspect[flat] = np.nan
        safe = np.where(flat, 1.0, steepness)
        northness = np.where(flat, 0.0, -north / safe)
        eastness = np.where(flat, 0.0, -east / safe)
    return {"SLOPE": slope, "ASPECT": aspect, "NORTHNESS": northness, "EASTNESS": eastness}


def horn_slope_aspect(z, dx, dy):
    """Slope and aspect in degrees (each (rows, cols)) of a DEM z (rows, cols), edges included.

    dx, dy: cell sizes in the elevation's units (scalars or per-row arrays of length rows).
    Aspect is clockwise from north, NaN where flat; NaN cells give NaN.
    """
    east, north = horn_gradient(pad_edges(z), dx, dy)
    factors = factors_from_gradient(east, north)
    return factors["SLOPE"], factors["ASPECT"]


def terrain_factors(z_padded, dx, dy):
    """All TERRAIN_FACTORS for the centre (rows, cols) of a padded DEM (rows+2, cols+2) -> dict."""
    east, north = horn_gradient(z_padded, dx, dy)
    factors = factors_from_gradient(east, north)
    factors["ELEVATION"] = np.asarray(z_padded, dtype=np.float64)[1:-1, 1:-1]
    return factors


def check_north_up(info):
    """Refuse rotated or south-up grids, whose rows are not north-to-south."""
    gt = info.geotransform
    if gt[2] != 0 or gt[4] != 0 or gt[1] <= 0 or gt[5] >= 0:
        raise SoilMetalError(
            f"The DEM '{info.path}' is not a north-up grid (geotransform {tuple(gt)}). Warp it "
            "to a north-up grid first (Raster > Projections > Warp), or give a REFERENCE raster.")


def cell_sizes(info, warn):
    """Per-row cell sizes in metres (dx, dy arrays of length height), warning about odd CRSs."""
    if not info.crs_wkt:
        xmin, ymin, xmax, ymax = info.extent
        looks_like_degrees = (info.pixel_width < 0.05 and -180.0 <= xmin and xmax <= 360.0
                              and -90.0 <= ymin and ymax <= 90.0)
        if looks_like_degrees:
            warn(f"The DEM '{info.path}' has no CRS and its coordinates look like degrees; "
                 "slopes are computed as if the cells were metres and will be far too steep. "
                 "Assign its CRS (e.g. EPSG:4326) and run again.")
        else:
            warn(f"The DEM '{info.path}' has no CRS; its cell size ({info.pixel_width:g} x "
                 f"{info.pixel_height:g}) is taken to be in metres. Assign its CRS if that is wrong.")
    return raster_io.pixel_size_metres(info)


# Below this share of valid elevation pixels the output is refused: it would be a factor
# raster of (almost) nothing that every later step samples as nodata.
MIN_VALID_SHARE = 0.01
WARN_VALID_SHARE = 0.5


def _check_crs(dem_info, reference):
    """Refuse to bring a DEM without CRS onto a reference grid (it cannot be placed on it)."""
    for info, what in ((dem_info, "DEM"), (reference, "reference raster")):
        if not info.crs_wkt:
            raise SoilMetalError(
                f"The {what} '{info.path}' has no CRS, so the DEM cannot be placed on the reference "
                "grid. Assign its CRS (Raster > Projections > Assign Projection) and run again.")


def _check_coverage(valid, info, dem_path, reference_path, warn):
    """Refuse an output with (almost) no valid elevation; warn when much of it is nodata."""
    total = info.width * info.height
    share = valid / total if total else 0.0
    where = f"of the reference grid '{reference_path}'" if reference_path else "of the DEM"
    if valid == 0:
        raise SoilMetalError(
            f"The DEM '{dem_path}' has no valid elevation on any of the {total:,} pixels {where} "
            "(all nodata, NaN or outside). Check the DEM's nodata value, band and extent, or choose "
            "a DEM that covers the area.")
    if share < MIN_VALID_SHARE:
        raise SoilMetalError(
            f"The DEM '{dem_path}' gives valid elevations on only {valid:,} of the {total:,} pixels "
            f"{where} ({100 * share:.2g} %, below {100 * MIN_VALID_SHARE:g} %). Choose a DEM that "
            "covers the area, or check its nodata value.")
    if share < WARN_VALID_SHARE:
        warn(f"Only {100 * share:.1f} % of the pixels {where} have a valid elevation ({valid:,} of "
             f"{total:,}); the rest of the terrain factors are nodata.")


def warp_dem(dem_path, dem_info, band, reference, folder, resampling="bilinear",
             monitor=NULL_MONITOR):
    """Warp one DEM band onto a reference grid (RasterInfo) into `folder`; the new file's path.

    Refuses a DEM that does not overlap the reference, naming the reference's extent.
    """
    _check_crs(dem_info, reference)
    if not raster_io.extents_overlap(reference, dem_info):
        raise SoilMetalError(
            f"The DEM '{dem_path}' does not overlap the reference raster "
            f"'{reference.path}' ({raster_io.describe_window_extent(reference)}). "
            "Choose a DEM that covers the reference area.")
    monitor.info(f"Warping the DEM onto the grid of '{reference.path}' "
                 f"({reference.width} x {reference.height}, {resampling}).")
    work_path = os.path.join(folder, "dem_on_reference.tif")
    raster_io.warp_to_grid(dem_path, work_path, reference, resampling=resampling, band=int(band))
    return work_path


def window_factors(reader, window, band, info, dx, dy, z_factor=1.0):
    """All TERRAIN_FACTORS of one Window of an open DEM RasterReader (info: its RasterInfo).

    A one-pixel halo is read around the window; raster edges are extrapolated (pad_edges).
    dx, dy: per-row cell sizes in metres of the whole raster (cell_sizes).
    """
    halo = window.expanded(1, info.width, info.height)
    z = reader.read([band], halo)[0]
    if z_factor != 1.0:
        z = z * z_factor
    z_padded = pad_edges(z, top=halo.yoff == window.yoff,
                         bottom=halo.yoff + halo.ysize == window.yoff + window.ysize,
                         left=halo.xoff == window.xoff,
                         right=halo.xoff + halo.xsize == window.xoff + window.xsize)
    rows = slice(window.yoff, window.yoff + window.ysize)
    return terrain_factors(z_padded, dx[rows], dy[rows])


def run_terrain_factors(dem_path, output_path, band=1, reference_path=None,
                        resampling="bilinear", z_factor=1.0, monitor=NULL_MONITOR,
                        block_size=1024):
    """Write ELEVATION, SLOPE, ASPECT, NORTHNESS, EASTNESS of a DEM band as a Float32 raster.

    With reference_path, the DEM is first warped (bilinear or cubic) onto the reference's grid
    and the output lies exactly on it. z_factor multiplies elevations (e.g. 0.01 for a DEM in
    centimetres). Returns {"output", "factors", "warnings"}.
    """
    warnings = []

    def warn(message):
        warnings.append(message)
        monitor.warning(message)

    dem_info = raster_io.raster_info(dem_path)
    if not 1 <= int(band) <= dem_info.band_count:
        raise SoilMetalError(f"The DEM '{dem_path}' has {dem_info.band_count} band(s); band "
                             f"{band} was asked for. Choose a band between 1 and "
                             f"{dem_info.band_count}.")
    if resampling not in RESAMPLING_METHODS:
        raise SoilMetalError(f"Unknown resampling '{resampling}'. Choose one of "
                             f"{', '.join(RESAMPLING_METHODS)}.")
    if not np.isfinite(z_factor) or z_factor == 0:
        raise SoilMetalError(f"The Z factor must be a non-zero number, got {z_factor}.")
    temp_folder = None
    work_path, work_band, compute_monitor = str(dem_path), int(band), monitor
    try:
        if reference_path:
            reference = raster_io.raster_info(reference_path)
            if not reference.same_grid(dem_info):
                temp_folder = tempfile.mkdtemp(prefix="soilmetal_terrain_")
                work_path = warp_dem(dem_path, dem_info, band, reference, temp_folder,
                                     resampling, monitor)
                work_band = 1
                monitor.set_progress(10.0)
                compute_monitor = monitor.child(10.0, 100.0)
        info = raster_io.raster_info(work_path)
        check_north_up(info)
        dx, dy = cell_sizes(info, warn)
        valid = 0
        with raster_io.RasterReader(work_path) as reader, \
                raster_io.RasterWriter(output_path, info.width, info.height, info.geotransform,
                                       info.crs_wkt, TERRAIN_FACTORS) as writer:
            for window in iter_blocks(info.width, info.height, compute_monitor, block_size):
                factors = window_factors(reader, window, work_band, info, dx, dy, z_factor)
                valid += int(np.isfinite(factors[TERRAIN_FACTORS[0]]).sum())
                for index, name in enumerate(TERRAIN_FACTORS):
                    writer.write(index, window, factors[name])
            _check_coverage(valid, info, dem_path, reference_path, warn)
    finally:
        if temp_folder:
            shutil.rmtree(temp_folder, ignore_errors=True)
    return {"output": str(output_path), "factors": list(TERRAIN_FACTORS), "warnings": warnings}
