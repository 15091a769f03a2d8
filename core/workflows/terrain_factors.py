"""terrainfactors' workflow: a DEM band (warped onto a reference grid when one is given) read
block by block with a one-pixel halo, its TERRAIN_FACTORS streamed to the output raster ->
TerrainFactorsRun. The Horn arrays are core/science/terrain.py.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .. import raster_io
from ..blocks import iter_blocks
from ..errors import SoilMetalError
from ..monitor import NULL_MONITOR
from ..science.terrain import TERRAIN_FACTORS, pad_edges, terrain_factors
from .factor_rasters import BandStatistics, WarningLog

RESAMPLING_METHODS = ("bilinear", "cubic")
# Below this share of valid elevation pixels the output is refused: it would be a factor
# raster of (almost) nothing that every later step samples as nodata.
MIN_VALID_SHARE = 0.01
WARN_VALID_SHARE = 0.5


@dataclass
class TerrainFactorsRun:
    """What one terrainfactors run wrote and saw."""

    output: str
    factors: list
    warnings: list = field(default_factory=list)
    statistics: list = field(default_factory=list)   # BandStatistics.rows() of the output


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


def check_dem_band(dem_path, dem_info, band):
    """Refuse a DEM band number the DEM does not have."""
    if not 1 <= int(band) <= dem_info.band_count:
        raise SoilMetalError(f"The DEM '{dem_path}' has {dem_info.band_count} band(s); band "
                             f"{band} was asked for. Choose a band between 1 and "
                             f"{dem_info.band_count}.")


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


def _check_options(resampling, z_factor):
    """Refuse an unknown resampling or a Z factor that is zero or not a number."""
    if resampling not in RESAMPLING_METHODS:
        raise SoilMetalError(f"Unknown resampling '{resampling}'. Choose one of "
                             f"{', '.join(RESAMPLING_METHODS)}.")
    if not np.isfinite(z_factor) or z_factor == 0:
        raise SoilMetalError(f"The Z factor must be a non-zero number, got {z_factor}.")


def _write_factors(work_path, work_band, output_path, z_factor, monitor, block_size, warn,
                   check_coverage):
    """Stream the TERRAIN_FACTORS of a north-up DEM band to output_path -> BandStatistics.

    check_coverage(valid elevations, grid) runs before the writer commits, so a DEM it refuses
    leaves no output.
    """
    info = raster_io.raster_info(work_path)
    check_north_up(info)
    dx, dy = cell_sizes(info, warn)
    statistics = BandStatistics(TERRAIN_FACTORS)
    with raster_io.RasterReader(work_path) as reader, \
            raster_io.RasterWriter(output_path, info.width, info.height, info.geotransform,
                                   info.crs_wkt, TERRAIN_FACTORS) as writer:
        for window in iter_blocks(info.width, info.height, monitor, block_size):
            factors = window_factors(reader, window, work_band, info, dx, dy, z_factor)
            for index, name in enumerate(TERRAIN_FACTORS):
                statistics.add(index, factors[name])
                writer.write(index, window, factors[name])
        check_coverage(statistics.valid[0], info)
    return statistics


def run_terrain_factors(dem_path, output_path, band=1, reference_path=None,
                        resampling="bilinear", z_factor=1.0, monitor=NULL_MONITOR,
                        block_size=1024):
    """Write ELEVATION, SLOPE, ASPECT, NORTHNESS, EASTNESS of a DEM band as a Float32 raster.

    With reference_path, the DEM is first warped (bilinear or cubic) onto the reference's grid
    and the output lies exactly on it. z_factor multiplies elevations (e.g. 0.01 for a DEM in
    centimetres). Returns a TerrainFactorsRun.
    """
    warn = WarningLog(monitor)
    dem_info = raster_io.raster_info(dem_path)
    check_dem_band(dem_path, dem_info, band)
    _check_options(resampling, z_factor)
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
        statistics = _write_factors(
            work_path, work_band, output_path, z_factor, compute_monitor, block_size, warn,
            lambda valid, info: _check_coverage(valid, info, dem_path, reference_path, warn))
    finally:
        if temp_folder:
            shutil.rmtree(temp_folder, ignore_errors=True)
    return TerrainFactorsRun(str(output_path), list(TERRAIN_FACTORS), list(warn), statistics.rows())
