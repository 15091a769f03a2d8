"""Content maps: a model applied to factor rasters block by block, in bounded memory."""

import numpy as np

from . import raster_io
from .blocks import iter_blocks
from .science.aoa import ApplicabilityReference
from .science.ensemble import PixelModel, factors_outside
from .errors import SoilMetalError
from .science.intervals import check_coverage, check_threshold, distribution_of
from .kriging_map import map_kriging
from .model_file import require_cv
from .monitor import NULL_MONITOR
from .sampling import catalogue_factors, resolve_factors

EXTRAPOLATION_MODES = ("keep", "mask", "aoa")
EXTRAPOLATION_LABELS = ("Predict, and count pixels outside the training ranges in the log",
                        "Set pixels outside the training ranges to nodata",
                        "Area of applicability: report the share of pixels outside it (needs a model "
                        "trained with CV; else as 0)")
# A map with fewer mapped pixels than this share of its grid gets a loud warning.
LOW_COVERAGE_SHARE = 0.25
SPREAD_LABEL = "ensemble spread (model disagreement, not an error bar)"


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


def _applicability(model, extrapolation, required, monitor):
    """The model's AOA reference when asked for (required) or when it is the guard and the model
    file holds what it needs; None otherwise (the training-range count then guards)."""
    available = model.samples is not None and model.cv is not None
    if not required and not (extrapolation == "aoa" and available):
        if extrapolation == "aoa":
            monitor.info("This model file has no cross-validation folds, so the area of applicability "
                         "cannot be computed; pixels outside the training ranges are counted instead. "
                         "Retrain the model with CV = 1 or 2 to get the area of applicability.")
        return None
    # Permutation importance shuffles with a generator seeded by the model: same model, same DI.
    reference = ApplicabilityReference.from_model(model, np.random.default_rng(model.seed))
    monitor.info(f"Area of applicability: DI threshold {reference.threshold:.4g} (upper whisker of the "
                 f"training DI of {len(reference.training_di)} samples, each against the samples of "
                 f"other CV folds); factor weights (permutation importance): {reference.describe_weights()}.")
    return reference


def _companion_outputs(model, paths, coverage, threshold):
    """Check, before any pixel is read, what the interval and exceedance outputs need; returns
    (distribution or None, the (band name, metadata) of each companion raster)."""
    metal = metal_label(model)
    bands = {"content": (content_band_name(model), {"UNITS": "mg/kg"}),
             "spread": (f"{metal} {SPREAD_LABEL} (mg/kg)", {"UNITS": "mg/kg", "MEANING": SPREAD_LABEL}),
             "outside": ("factors outside training range", {})}
    distribution = None
    if paths.get("lower") or paths.get("upper"):
        coverage = check_coverage(coverage)
        distribution = distribution_of(model, "prediction intervals (OUTPUT_LOWER, OUTPUT_UPPER)")
        low, high = distribution.quantile_offsets(coverage)
        meta = {"UNITS": "mg/kg", "COVERAGE": f"{coverage:g}", "CALIBRATION_RESIDUALS": distribution.n,
                "METHOD": "split-conformal on out-of-fold residuals, equal tails, (n+1) rule"
                          + (", log scale" if model.log_target else "")}
        bands["lower"] = (f"{metal} lower {100 * coverage:g} % bound (mg/kg)", meta)
        bands["upper"] = (f"{metal} upper {100 * coverage:g} % bound (mg/kg)", meta)
    if paths.get("exceedance"):
        if threshold is None:
            raise SoilMetalError("OUTPUT_EXCEEDANCE needs THRESHOLD: give the content in mg/kg whose "
                                 "exceedance probability to map (e.g. a guideline value), or leave "
                                 "OUTPUT_EXCEEDANCE empty.")
        threshold = check_threshold(threshold)
        distribution = distribution or distribution_of(model, "exceedance probabilities (OUTPUT_EXCEEDANCE)")
        bands["exceedance"] = (f"P({metal} > {threshold:g} mg/kg)",
                               {"THRESHOLD": f"{threshold:g}", "UNITS": "probability 0-1",
                                "CALIBRATION_RESIDUALS": distribution.n})
    bands["aoa"] = ("dissimilarity index (AOA)", {})
    return distribution, bands


def predict_map(model, sources, output_path, uncertainty_path=None, extrapolation_path=None,
                extrapolation="aoa", monitor=NULL_MONITOR, block_size=1024, *, lower_path=None,
                upper_path=None, coverage=0.9, exceedance_path=None, threshold=None, aoa_path=None,
                aoa_mask=False, residual_kriging=False, kriging_neighbours=16, kriged_path=None):
    """Write the model's content map and its companions on the grid of the first factor raster;
    returns a summary dict. Companions (each optional): ensemble spread, count of factors outside
    the training ranges, prediction interval bounds for `coverage` (core/science/intervals.py), P(content >
    threshold mg/kg), the AOA dissimilarity index (core/science/aoa.py). extrapolation: 'keep' (count
    pixels outside the training ranges), 'mask' (set them to nodata), 'aoa' (report the share
    outside the area of applicability when the model supports it, else as 'keep'); aoa_mask sets
    pixels outside the AOA to nodata. A pixel nodata in the content map is nodata in every
    companion; contents below 0 mg/kg are clamped to 0 and counted. residual_kriging adds the
    ordinary kriging of the model's out-of-fold residuals (core/kriging_map.py) on the model's
    scale, and the intervals and exceedance become those of regression kriging; kriged_path
    writes the added surface."""
    if extrapolation not in EXTRAPOLATION_MODES:
        raise SoilMetalError(f"Unknown extrapolation mode '{extrapolation}'.")
    paths = {"content": output_path, "spread": uncertainty_path, "outside": extrapolation_path,
             "lower": lower_path, "upper": upper_path, "exceedance": exceedance_path, "aoa": aoa_path,
             "kriged": kriged_path}
    distribution, bands = _companion_outputs(model, paths, coverage, threshold)
    kriging = _residual_kriging(model, residual_kriging, kriging_neighbours, kriged_path, bands, monitor)
    catalogue = catalogue_factors(sources)
    wanted = resolve_factors(catalogue, model.factor_names)
    reference = _applicability(model, extrapolation, bool(aoa_path or aoa_mask), monitor)
    if reference is not None:
        bands["aoa"][1].update({"AOA_THRESHOLD": f"{reference.threshold:.6g}",
                                "AOA_WEIGHTS": reference.describe_weights()})
    grid = raster_io.raster_info(sources[0].path, sources[0].layer_name)
    if kriging:
        kriging = map_kriging(model, grid, kriging_neighbours, monitor)
        if kriging is not None and distribution is not None:
            distribution = kriging.distribution("Prediction intervals and exceedance")
            for kind in ("lower", "upper", "exceedance"):
                if kind in bands:
                    bands[kind][1].update({
                        "CALIBRATION_RESIDUALS": distribution.n,
                        "METHOD": kriging.METHOD})
    views, temporary = _grid_views(wanted, grid, monitor)
    by_view = {}
    for column, factor in enumerate(wanted):
        by_view.setdefault(views[factor.path], []).append((column, factor.band))
    low, high = model.training_ranges()
    readers = {view: raster_io.RasterReader(view) for view in by_view}
    pixel_model = PixelModel(model)
    writers = {}
    counts = dict.fromkeys(("valid", "written", "extrapolated", "outside_aoa", "masked", "clamped"), 0)
    lowest = np.inf
    try:
        for kind, path in paths.items():
            if path:
                name, metadata = bands[kind]
                writers[kind] = raster_io.RasterWriter(path, grid.width, grid.height, grid.geotransform,
                                                       grid.crs_wkt, [name])
                if metadata:
                    writers[kind].set_band_metadata(0, metadata)
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
            content, spread, centre = pixel_model.predict_with_centre(pixels)
            if kriging:     # the kriged residual joins on the model's scale
                kriged = kriging.window(window, valid)
                centre = centre + kriged
                content = np.exp(centre) if model.log_target else centre.copy()
            broken = valid & ~np.isfinite(content)
            if broken.any():
                raise SoilMetalError(
                    f"The model gives no finite content at {int(broken.sum())} pixels whose factors are "
                    "valid: its weights overflow (the network diverged, or the model file was edited). "
                    "Retrain the model with 'Train GA-BP model'.")
            outside = factors_outside(pixels, low, high)
            extrapolated = valid & (outside > 0)
            masked = extrapolated if extrapolation == "mask" else np.zeros_like(valid)
            blocks = {"outside": np.where(valid, outside, np.nan)} if "outside" in writers else {}
            if "kriged" in writers:
                blocks["kriged"] = kriged if kriging else np.where(valid, 0.0, np.nan)
            if reference is not None:
                blocks["aoa"] = reference.dissimilarity(pixels)
                beyond = valid & (blocks["aoa"] > reference.threshold)
                counts["outside_aoa"] += int(beyond.sum())
                if aoa_mask:
                    masked = masked | beyond
            written = valid & ~masked
            negative = written & (content < 0)
            if negative.any():
                counts["clamped"] += int(negative.sum())
                lowest = min(lowest, float(content[negative].min()))
                np.maximum(content, 0.0, out=content, where=written)
            content[~written] = np.nan
            spread[~written] = np.nan
            blocks.update(content=content, spread=spread)
            if "lower" in writers or "upper" in writers:
                blocks["lower"], blocks["upper"] = distribution.interval(centre, coverage)
            if "exceedance" in writers:
                blocks["exceedance"] = distribution.exceedance(centre, threshold)
            for kind in ("lower", "upper", "exceedance", "kriged"):
                if kind in blocks:
                    blocks[kind][~written] = np.nan
            counts["valid"] += int(valid.sum())
            counts["written"] += int(written.sum())
            counts["extrapolated"] += int(extrapolated.sum())
            counts["masked"] += int((valid & masked).sum())
            for kind, writer in writers.items():
                writer.write(0, window, blocks[kind].reshape(window.ysize, window.xsize))
        _refuse_empty_map(counts, extrapolation, aoa_mask)
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
    return _report(counts, lowest, grid, extrapolation, aoa_mask, reference, wanted, monitor)


def _residual_kriging(model, asked, neighbours, kriged_path, bands, monitor):
    """True when the map is to be kriged (checked before any pixel is read); adds the band of
    OUTPUT_KRIGED_RESIDUAL."""
    if kriged_path and not asked:
        raise SoilMetalError("OUTPUT_KRIGED_RESIDUAL is the surface residual kriging adds: set "
                             "RESIDUAL_KRIGING to true, or leave OUTPUT_KRIGED_RESIDUAL empty.")
    if not asked:
        return False
    require_cv(model, "residual kriging (RESIDUAL_KRIGING)")
    scale = "log(mg/kg)" if model.log_target else "mg/kg"
    bands["kriged"] = (f"{metal_label(model)} kriged residual ({scale})",
                       {"UNITS": scale, "NEIGHBOURS": int(neighbours),
                        "METHOD": "ordinary kriging of the out-of-fold residuals, added on the "
                                  "model's scale"})
    return True


def _refuse_empty_map(counts, extrapolation, aoa_mask):
    """SoilMetalError (so no file is kept) when not one pixel of the map has a content."""
    if counts["written"]:
        return
    if not counts["valid"]:
        raise SoilMetalError("No pixel has valid values of every factor the model needs: the map would "
                             "be all nodata. Check that the factor rasters cover the same area and that "
                             "their nodata does not cover it (e.g. a cloud mask over the whole scene).")
    reasons = []
    if aoa_mask:
        reasons.append("set AOA_MASK to false")
    if extrapolation == "mask":
        reasons.append("set EXTRAPOLATION to 0 or 2")
    raise SoilMetalError(f"All {counts['valid']} pixels with valid factors were masked (outside the training "
                         "ranges or the area of applicability): the map would be all nodata. The model "
                         f"does not apply to this scene; to map it anyway, {' and '.join(reasons)}.")


def _report(counts, lowest, grid, extrapolation, aoa_mask, reference, wanted, monitor):
    """Log what the map holds and return the summary dict."""
    valid = counts["valid"]
    share = counts["extrapolated"] / valid if valid else 0.0
    if counts["extrapolated"]:
        message = (f"{counts['extrapolated']} of {valid} pixels with valid factors ({100 * share:.1f} %) "
                   "have at least one factor outside the range of the training samples: the model "
                   "extrapolates there." + (" They were set to nodata." if extrapolation == "mask" else
                                            " Use EXTRAPOLATION=1 to mask them."))
        (monitor.info if reference is not None else monitor.warning)(message)
    aoa_share = None
    if reference is not None:
        aoa_share = 1.0 - counts["outside_aoa"] / valid if valid else 0.0
        if counts["outside_aoa"]:
            monitor.warning(
                f"{counts['outside_aoa']} of {valid} pixels with valid factors ({100 * (1 - aoa_share):.1f} %) "
                f"lie outside the area of applicability (dissimilarity index > {reference.threshold:.4g}): "
                "their factors differ from every sample more than the cross-validation tested, so neither "
                "the content nor its interval can be trusted there." +
                (" They were set to nodata." if aoa_mask else " Use AOA_MASK to set them to nodata, or "
                 "OUTPUT_AOA to see where they are."))
    if counts["clamped"]:
        monitor.warning(f"{counts['clamped']} pixels had a predicted content below 0 mg/kg (down to "
                        f"{lowest:.3g}); they were set to 0. The model extrapolates below its training "
                        "range there.")
    total = grid.width * grid.height
    if counts["written"] < LOW_COVERAGE_SHARE * total:
        monitor.warning(f"Only {counts['written']} of the {total} pixels of the output grid "
                        f"({100 * counts['written'] / total:.1f} %) have a content: the rest is nodata "
                        "(factor nodata or masked pixels). Check the factor rasters' nodata and extent.")
    return {"pixels_mapped": counts["written"], "pixels_valid": valid,
            "pixels_masked": counts["masked"], "pixels_extrapolated": counts["extrapolated"],
            "pixels_nodata": total - counts["written"], "pixels_clamped": counts["clamped"],
            "extrapolated_fraction": share, "aoa_share": aoa_share,
            "aoa_threshold": None if reference is None else reference.threshold,
            "factor_names": [f.name for f in wanted]}
