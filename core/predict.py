"""Content maps: a model applied to factor rasters block by block, in bounded memory."""

import numpy as np

from . import raster_io
from .blocks import iter_blocks
from .errors import SoilMetalError
from .monitor import NULL_MONITOR
from .sampling import catalogue_factors, resolve_factors

EXTRAPOLATION_MODES = ("keep", "mask")
EXTRAPOLATION_LABELS = ("Predict, and count extrapolated pixels in the log",
                        "Set pixels outside the training ranges to nodata")


def metal_label(model):
    """The metal a model predicts, e.g. 'Cu', or 'Content' when the model does not say."""
    return model.metal or "Content"


def content_band_name(model):
    """Band description of a content map, e.g. 'Cu (mg/kg)'."""
    return f"{metal_label(model)} (mg/kg)"


def _grid_views(wanted, grid, monitor):
    """For each raster path, the path to read on the output grid: itself, or a warped in-memory view."""
    views, temporary = {}, []
    for factor in wanted:
        if factor.path in views:
            continue
        if factor.info.same_grid(grid):
            views[factor.path] = factor.path
            continue
        if not raster_io.extents_overlap(grid, factor.info):
            raise SoilMetalError(
                f"Raster '{factor.path}' (extent {raster_io.describe_window_extent(factor.info)}) does "
                f"not overlap the output grid of '{grid.path}' (extent "
                f"{raster_io.describe_window_extent(grid)}). Give factor rasters of the same area.")
        monitor.info(f"'{raster_io.layer_stem(factor.path)}' is on another grid or CRS than "
                     f"'{raster_io.layer_stem(grid.path)}': resampled (bilinear) onto it on the fly.")
        view = raster_io.temp_vsimem_path(".vrt")
        raster_io.warp_to_grid(factor.path, view, grid, resampling="bilinear")
        views[factor.path] = view
        temporary.append(view)
    return views, temporary


def predict_map(model, sources, output_path, uncertainty_path=None, extrapolation_path=None,
                extrapolation="keep", monitor=NULL_MONITOR, block_size=1024):
    """Write the model's content map (and optionally its ensemble spread and an extrapolation
    count) on the grid of the first factor raster; returns a summary dict."""
    if extrapolation not in EXTRAPOLATION_MODES:
        raise SoilMetalError(f"Unknown extrapolation mode '{extrapolation}'.")
    catalogue = catalogue_factors(sources)
    wanted = resolve_factors(catalogue, model.factor_names)
    grid = raster_io.raster_info(sources[0].path, sources[0].layer_name)
    views, temporary = _grid_views(wanted, grid, monitor)
    by_view = {}
    for column, factor in enumerate(wanted):
        by_view.setdefault(views[factor.path], []).append((column, factor.band))
    ranges = np.array([model.factor_ranges[name] for name in model.factor_names], dtype=np.float64)
    low, high = ranges[:, 0], ranges[:, 1]
    readers = {view: raster_io.RasterReader(view) for view in by_view}
    outputs = [("content", output_path, content_band_name(model)),
               ("spread", uncertainty_path, f"{metal_label(model)} ensemble std (mg/kg)"),
               ("outside", extrapolation_path, "factors outside training range")]
    writers = {}
    counts = {"valid": 0, "extrapolated": 0, "nodata": 0}
    try:
        for kind, path, band_name in outputs:
            if path:
                writers[kind] = raster_io.RasterWriter(path, grid.width, grid.height, grid.geotransform,
                                                       grid.crs_wkt, [band_name])
        stack = None
        for window in iter_blocks(grid.width, grid.height, monitor, block_size):
            shape = (len(wanted), window.ysize, window.xsize)
            if stack is None or stack.shape != shape:
                stack = np.empty(shape, dtype=np.float64)
            for view, members in by_view.items():
                stack[[c for c, _ in members]] = readers[view].read([b for _, b in members], window)
            pixels = stack.reshape(len(wanted), -1)
            valid = np.isfinite(pixels).all(axis=0)
            outside = ((pixels < low[:, None]) | (pixels > high[:, None])).sum(axis=0)
            content = np.full(pixels.shape[1], np.nan)
            spread = np.full(pixels.shape[1], np.nan)
            if valid.any():
                mean, std = model.predict(pixels[:, valid].T)
                content[valid] = mean
                spread[valid] = std
            extrapolated = valid & (outside > 0)
            counts["valid"] += int(valid.sum())
            counts["extrapolated"] += int(extrapolated.sum())
            counts["nodata"] += int((~valid).sum())
            if extrapolation == "mask":
                content[extrapolated] = np.nan
                spread[extrapolated] = np.nan
            blocks = {"content": content, "spread": spread, "outside": np.where(valid, outside, np.nan)}
            for kind, writer in writers.items():
                writer.write(0, window, blocks[kind].reshape(window.ysize, window.xsize))
        for writer in writers.values():
            writer.commit()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    finally:
        for reader in readers.values():
            reader.close()
        for view in temporary:
            raster_io.delete_vsimem(view)
    share = counts["extrapolated"] / counts["valid"] if counts["valid"] else 0.0
    if counts["extrapolated"]:
        monitor.warning(f"{counts['extrapolated']} of {counts['valid']} mapped pixels ({100 * share:.1f} %) "
                        "have at least one factor outside the range of the training samples: the model "
                        "extrapolates there." + (" They were set to nodata." if extrapolation == "mask" else
                                                 " Use EXTRAPOLATION=1 to mask them."))
    if counts["valid"] == 0:
        monitor.warning("No pixel has valid values of every factor: the map is all nodata.")
    return {"pixels_mapped": counts["valid"], "pixels_extrapolated": counts["extrapolated"],
            "pixels_nodata": counts["nodata"], "extrapolated_fraction": share,
            "factor_names": [f.name for f in wanted]}
