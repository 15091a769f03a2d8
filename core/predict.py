"""Content maps: a model applied to factor rasters block by block, in bounded memory."""

import numpy as np

from . import raster_io
from .blocks import iter_blocks
from .errors import SoilMetalError
from .monitor import NULL_MONITOR
from .network import minmax_invert, unpack
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


class PixelModel:
    """A model's networks for whole raster blocks: the input min-max scaling is folded into the
    first layer, and pixels stay in the (factors, pixels) layout they are read in, so a block is
    evaluated with one small matrix product per layer in float32, without transposes or copies.
    NaN pixels give NaN. Agrees with Model.predict to float32 precision."""

    def __init__(self, model):
        x_min = np.asarray(model.x_min, dtype=np.float64)
        span = np.asarray(model.x_max, dtype=np.float64) - x_min
        varied = span > 0
        gain = np.divide(2.0, span, out=np.zeros_like(span), where=varied)
        # minmax_apply(x) = x * gain - shift, so W1 @ scaled + b1 = (W1 * gain) @ x + (b1 - W1 @ shift).
        shift = x_min * gain + varied
        self.layers = []
        for theta in model.members:
            w1, b1, w2, b2 = unpack(theta, model.n_inputs)
            self.layers.append(((w1 * gain).astype(np.float32), (b1 - w1 @ shift).astype(np.float32)[:, None],
                                w2.astype(np.float32), float(b2)))
        self.y_min, self.y_max = model.y_min, model.y_max
        self.log_target = model.log_target

    def predict(self, pixels):
        """Ensemble mean and population std (n,) in mg/kg of pixels (L, n) float32."""
        count = len(self.layers)
        mean = spread = log_mean = None
        for index, (w1, b1, w2, b2) in enumerate(self.layers, start=1):
            hidden = w1 @ pixels
            hidden += b1
            np.tanh(hidden, out=hidden)
            output = minmax_invert((w2 @ hidden).astype(np.float64) + b2, self.y_min, self.y_max)
            value = np.exp(output) if self.log_target else output
            if index == 1:
                mean, spread, log_mean = value, np.zeros_like(value), output
                continue
            delta = value - mean
            mean = mean + delta / index
            spread += delta * (value - mean)
            if self.log_target:
                log_mean = log_mean + (output - log_mean) / index
        if self.log_target:
            mean = np.exp(log_mean)
        return mean, np.sqrt(spread / count)


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
    pixel_model = PixelModel(model)
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
                stack = np.empty(shape, dtype=np.float32)
            for view, members in by_view.items():
                stack[[c for c, _ in members]] = readers[view].read([b for _, b in members], window,
                                                                    dtype=np.float32)
            pixels = stack.reshape(len(wanted), -1)
            valid = np.isfinite(pixels).all(axis=0)
            # NaN (nodata) pixels come out of the networks as NaN: no masking copy is needed.
            content, spread = pixel_model.predict(pixels)
            if "outside" in writers:
                outside = ((pixels < low[:, None]) | (pixels > high[:, None])).sum(axis=0)
                extrapolated = valid & (outside > 0)
            else:
                extrapolated = valid & ((pixels < low[:, None]) | (pixels > high[:, None])).any(axis=0)
                outside = extrapolated
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
