"""predictcontent's workflow: a model applied to factor rasters block by block, in bounded memory,
each block written through the RasterOutputs it is handed -> MappingRun.

The pixel model and the extrapolation rule are core/science/ensemble.py's; the intervals and the
exceedance core/science/intervals.py's; the area of applicability core/science/aoa.py's; the
kriged residual surface core/workflows/map_kriging.py's. This module decides what each output
pixel holds (nodata, masks, clamping), counts it, and says what the map holds in the log.
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import raster_io
from ..blocks import iter_blocks
from ..errors import SoilMetalError
from ..model_file import require_cv
from ..monitor import NULL_MONITOR
from ..sampling import catalogue_factors, resolve_factors
from ..science.aoa import ApplicabilityReference
from ..science.ensemble import PixelModel, factors_outside
from ..science.intervals import check_coverage, check_threshold, distribution_of
from ..science.map_shares import AOA_THRESHOLD_KEY
from .map_kriging import map_kriging

EXTRAPOLATION_MODES = ("keep", "mask", "aoa")
EXTRAPOLATION_LABELS = ("Predict, and count pixels outside the training ranges in the log",
                        "Set pixels outside the training ranges to nodata",
                        "Area of applicability: report the share of pixels outside it (needs a model "
                        "trained with CV; else as 0)")
# A map with fewer mapped pixels than this share of its grid gets a loud warning.
LOW_COVERAGE_SHARE = 0.25
SPREAD_LABEL = "ensemble spread (model disagreement, not an error bar)"
# The outputs of a map, in the order they are declared; "content" is the map itself.
OUTPUT_KINDS = ("content", "spread", "outside", "lower", "upper", "exceedance", "aoa", "kriged")
COUNTS = ("valid", "written", "extrapolated", "outside_aoa", "masked", "clamped")


def mapped_metal(model):
    """The metal a model maps, e.g. 'Cu', or 'Content' when the model file does not say."""
    return model.metal or "Content"


def content_band_name(model):
    """Band description of a content map, e.g. 'Cu (mg/kg)'."""
    return f"{mapped_metal(model)} (mg/kg)"


@dataclass
class MappingSettings:
    """How to map: extrapolation 'keep' (count pixels outside the training ranges), 'mask' (set
    them to nodata) or 'aoa' (report the share outside the area of applicability when the model
    supports it, else as 'keep'); aoa_mask sets pixels outside the AOA to nodata; coverage of the
    intervals; threshold (mg/kg) of the exceedance map; residual_kriging adds the kriged
    out-of-fold residuals (regression kriging)."""

    extrapolation: str = "aoa"
    coverage: float = 0.9
    threshold: Optional[float] = None
    aoa_mask: bool = False
    residual_kriging: bool = False
    kriging_neighbours: int = 16
    block_size: int = 1024


@dataclass
class MappingRun:
    """What one mapping pass wrote: its grid, factors, pixel counts and AOA threshold."""

    grid: object                   # raster_io.RasterInfo of the output grid
    factor_names: list
    settings: MappingSettings
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    lowest: float = np.inf         # the lowest content clamped to 0 mg/kg
    aoa_threshold: Optional[float] = None

    @property
    def extrapolated_fraction(self):
        """Share of the pixels with valid factors that lie outside the training ranges."""
        valid = self.counts["valid"]
        return self.counts["extrapolated"] / valid if valid else 0.0

    @property
    def aoa_share(self):
        """Share of the pixels with valid factors inside the area of applicability (None: not computed)."""
        if self.aoa_threshold is None:
            return None
        valid = self.counts["valid"]
        return 1.0 - self.counts["outside_aoa"] / valid if valid else 0.0

    @property
    def summary(self):
        """The numbers of the map (the algorithm's outputs and the scripts' summary dict)."""
        counts, total = self.counts, self.grid.width * self.grid.height
        return {"pixels_mapped": counts["written"], "pixels_valid": counts["valid"],
                "pixels_masked": counts["masked"], "pixels_extrapolated": counts["extrapolated"],
                "pixels_nodata": total - counts["written"], "pixels_clamped": counts["clamped"],
                "extrapolated_fraction": self.extrapolated_fraction, "aoa_share": self.aoa_share,
                "aoa_threshold": self.aoa_threshold, "factor_names": list(self.factor_names)}


class _FactorBlocks:
    """The model's factors read window by window on the output grid, as float32 (L, pixels); a
    raster on another grid or CRS is read through a warped in-memory view."""

    def __init__(self, wanted, grid, monitor):
        self.count = len(wanted)
        self._views = []
        self._readers = {}
        self._stack = None
        views = {}
        try:
            for factor in wanted:
                if factor.path not in views:
                    views[factor.path] = self._view(factor, grid, monitor)
            self._columns = {}
            for column, factor in enumerate(wanted):
                self._columns.setdefault(views[factor.path], []).append((column, factor.band))
            self._readers = {view: raster_io.RasterReader(view) for view in self._columns}
        except BaseException:
            self.close()
            raise

    def _view(self, factor, grid, monitor):
        """The path to read factor's raster on the grid: itself, or a warped in-memory view."""
        if factor.info.same_grid(grid):
            return factor.path
        if not raster_io.extents_overlap(grid, factor.info):
            raise SoilMetalError(
                f"Raster '{factor.path}' (extent {raster_io.describe_window_extent(factor.info)}) does "
                f"not overlap the output grid of '{grid.path}' (extent "
                f"{raster_io.describe_window_extent(grid)}). Give factor rasters of the same area.")
        monitor.info(f"'{raster_io.layer_stem(factor.path)}' is on another grid or CRS than "
                     f"'{raster_io.layer_stem(grid.path)}': resampled (bilinear) onto it on the fly.")
        view = raster_io.temp_vsimem_path(".vrt")
        self._views.append(view)
        raster_io.warp_to_grid(factor.path, view, grid, resampling="bilinear")
        return view

    def read(self, window):
        """The factors (L, ysize * xsize) float32 of a window, NaN = nodata (one buffer, reused)."""
        shape = (self.count, window.ysize, window.xsize)
        if self._stack is None or self._stack.shape != shape:
            self._stack = np.empty(shape, dtype=np.float32)
        for view, members in self._columns.items():
            self._stack[[c for c, _ in members]] = self._readers[view].read([b for _, b in members], window,
                                                                            dtype=np.float32)
        return self._stack.reshape(self.count, -1)

    def close(self):
        """Close the readers and free the in-memory views."""
        for reader in self._readers.values():
            reader.close()
        for view in self._views:
            raster_io.delete_vsimem(view)


def run_mapping(model, sources, rasters, settings=None, monitor=NULL_MONITOR):
    """Map `model` on the grid of the first factor raster of `sources`, writing each block to the
    kinds of OUTPUT_KINDS that `rasters` (raster_io.RasterOutputs) holds -> MappingRun. Companions:
    ensemble spread, count of factors outside the training ranges, interval bounds, P(content >
    threshold), the AOA dissimilarity index, the kriged residual. A pixel nodata in the content map
    is nodata in every companion; contents below 0 mg/kg are clamped to 0 and counted. Nothing is
    committed here: the caller commits `rasters` when the run returns, aborts them when it raises."""
    settings = settings or MappingSettings()
    if settings.extrapolation not in EXTRAPOLATION_MODES:
        raise SoilMetalError(f"Unknown extrapolation mode '{settings.extrapolation}'.")
    distribution, bands = _companion_outputs(model, rasters, settings.coverage, settings.threshold)
    kriging = _residual_kriging(model, settings, "kriged" in rasters, bands)
    wanted = resolve_factors(catalogue_factors(sources), model.factor_names)
    reference = _applicability(model, settings.extrapolation, "aoa" in rasters or settings.aoa_mask, monitor)
    if reference is not None:
        bands["aoa"][1].update({AOA_THRESHOLD_KEY: f"{reference.threshold:.6g}",
                                "AOA_WEIGHTS": reference.describe_weights()})
    grid = raster_io.raster_info(sources[0].path, sources[0].layer_name)
    if kriging:
        kriging = map_kriging(model, grid, settings.kriging_neighbours, monitor)
        if kriging is not None and distribution is not None:
            distribution = kriging.distribution("Prediction intervals and exceedance")
            for kind in ("lower", "upper", "exceedance"):
                if kind in bands:
                    bands[kind][1].update({"CALIBRATION_RESIDUALS": distribution.n, "METHOD": kriging.METHOD})
    run = MappingRun(grid, [factor.name for factor in wanted], settings,
                     aoa_threshold=None if reference is None else reference.threshold)
    factors = _FactorBlocks(wanted, grid, monitor)
    try:
        pixel_pass = _PixelPass(model, settings, run, reference, kriging, distribution, rasters)
        rasters.create(grid, bands)
        for window in iter_blocks(grid.width, grid.height, monitor, settings.block_size):
            rasters.write(window, pixel_pass.blocks(factors.read(window), window))
    finally:
        factors.close()
    _refuse_empty_map(run.counts, settings)
    _log_run(run, reference, monitor)
    return run


class _PixelPass:
    """What every output pixel of a block holds, and the counts of the run."""

    def __init__(self, model, settings, run, reference, kriging, distribution, rasters):
        self.pixel_model = PixelModel(model)
        self.low, self.high = model.training_ranges()
        self.log_target = model.log_target
        self.settings, self.run, self.reference = settings, run, reference
        self.kriging, self.distribution, self.rasters = kriging, distribution, rasters

    def blocks(self, pixels, window):
        """The block (pixels,) of each output kind for factors pixels (L, pixels) of a window."""
        counts, rasters = self.run.counts, self.rasters
        valid = np.isfinite(pixels).all(axis=0)
        # NaN (nodata) pixels come out of the networks as NaN: no masking copy is needed.
        content, spread, centre = self.pixel_model.predict_with_centre(pixels)
        if self.kriging:     # the kriged residual joins on the model's scale
            kriged = self.kriging.window(window, valid)
            centre = centre + kriged
            content = np.exp(centre) if self.log_target else centre.copy()
        broken = valid & ~np.isfinite(content)
        if broken.any():
            raise SoilMetalError(
                f"The model gives no finite content at {int(broken.sum())} pixels whose factors are "
                "valid: its weights overflow (the network diverged, or the model file was edited). "
                "Retrain the model with 'Train GA-BP model'.")
        outside = factors_outside(pixels, self.low, self.high)
        extrapolated = valid & (outside > 0)
        masked = extrapolated if self.settings.extrapolation == "mask" else np.zeros_like(valid)
        blocks = {"outside": np.where(valid, outside, np.nan)} if "outside" in rasters else {}
        if "kriged" in rasters:
            blocks["kriged"] = kriged if self.kriging else np.where(valid, 0.0, np.nan)
        if self.reference is not None:
            blocks["aoa"] = self.reference.dissimilarity(pixels)
            beyond = valid & (blocks["aoa"] > self.reference.threshold)
            counts["outside_aoa"] += int(beyond.sum())
            if self.settings.aoa_mask:
                masked = masked | beyond
        written = valid & ~masked
        negative = written & (content < 0)
        if negative.any():
            counts["clamped"] += int(negative.sum())
            self.run.lowest = min(self.run.lowest, float(content[negative].min()))
            np.maximum(content, 0.0, out=content, where=written)
        content[~written] = np.nan
        spread[~written] = np.nan
        blocks.update(content=content, spread=spread)
        if "lower" in rasters or "upper" in rasters:
            blocks["lower"], blocks["upper"] = self.distribution.interval(centre, self.settings.coverage)
        if "exceedance" in rasters:
            blocks["exceedance"] = self.distribution.exceedance(centre, self.settings.threshold)
        for kind in ("lower", "upper", "exceedance", "kriged"):
            if kind in blocks:
                blocks[kind][~written] = np.nan
        counts["valid"] += int(valid.sum())
        counts["written"] += int(written.sum())
        counts["extrapolated"] += int(extrapolated.sum())
        counts["masked"] += int((valid & masked).sum())
        return blocks


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


def _companion_outputs(model, rasters, coverage, threshold):
    """Check, before any pixel is read, what the interval and exceedance outputs need; returns
    (distribution or None, the (band name, metadata) of each companion raster)."""
    metal = mapped_metal(model)
    bands = {"content": (content_band_name(model), {"UNITS": "mg/kg"}),
             "spread": (f"{metal} {SPREAD_LABEL} (mg/kg)", {"UNITS": "mg/kg", "MEANING": SPREAD_LABEL}),
             "outside": ("factors outside training range", {})}
    distribution = None
    if "lower" in rasters or "upper" in rasters:
        coverage = check_coverage(coverage)
        distribution = distribution_of(model, "prediction intervals (OUTPUT_LOWER, OUTPUT_UPPER)")
        low, high = distribution.quantile_offsets(coverage)
        meta = {"UNITS": "mg/kg", "COVERAGE": f"{coverage:g}", "CALIBRATION_RESIDUALS": distribution.n,
                "METHOD": "split-conformal on out-of-fold residuals, equal tails, (n+1) rule"
                          + (", log scale" if model.log_target else "")}
        bands["lower"] = (f"{metal} lower {100 * coverage:g} % bound (mg/kg)", meta)
        bands["upper"] = (f"{metal} upper {100 * coverage:g} % bound (mg/kg)", meta)
    if "exceedance" in rasters:
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


def _residual_kriging(model, settings, kriged_output, bands):
    """True when the map is to be kriged (checked before any pixel is read); adds the band of
    OUTPUT_KRIGED_RESIDUAL."""
    if kriged_output and not settings.residual_kriging:
        raise SoilMetalError("OUTPUT_KRIGED_RESIDUAL is the surface residual kriging adds: set "
                             "RESIDUAL_KRIGING to true, or leave OUTPUT_KRIGED_RESIDUAL empty.")
    if not settings.residual_kriging:
        return False
    require_cv(model, "residual kriging (RESIDUAL_KRIGING)")
    scale = "log(mg/kg)" if model.log_target else "mg/kg"
    bands["kriged"] = (f"{mapped_metal(model)} kriged residual ({scale})",
                       {"UNITS": scale, "NEIGHBOURS": int(settings.kriging_neighbours),
                        "METHOD": "ordinary kriging of the out-of-fold residuals, added on the "
                                  "model's scale"})
    return True


def _refuse_empty_map(counts, settings):
    """SoilMetalError (so no file is kept) when not one pixel of the map has a content."""
    if counts["written"]:
        return
    if not counts["valid"]:
        raise SoilMetalError("No pixel has valid values of every factor the model needs: the map would "
                             "be all nodata. Check that the factor rasters cover the same area and that "
                             "their nodata does not cover it (e.g. a cloud mask over the whole scene).")
    reasons = []
    if settings.aoa_mask:
        reasons.append("set AOA_MASK to false")
    if settings.extrapolation == "mask":
        reasons.append("set EXTRAPOLATION to 0 or 2")
    raise SoilMetalError(f"All {counts['valid']} pixels with valid factors were masked (outside the training "
                         "ranges or the area of applicability): the map would be all nodata. The model "
                         f"does not apply to this scene; to map it anyway, {' and '.join(reasons)}.")


def _log_run(run, reference, monitor):
    """Say in the log what the map holds: extrapolation, pixels outside the AOA, clamping, coverage."""
    counts, valid, share = run.counts, run.counts["valid"], run.extrapolated_fraction
    settings = run.settings
    if counts["extrapolated"]:
        message = (f"{counts['extrapolated']} of {valid} pixels with valid factors ({100 * share:.1f} %) "
                   "have at least one factor outside the range of the training samples: the model "
                   "extrapolates there." + (" They were set to nodata." if settings.extrapolation == "mask"
                                            else " Use EXTRAPOLATION=1 to mask them."))
        (monitor.info if reference is not None else monitor.warning)(message)
    if reference is not None and counts["outside_aoa"]:
        monitor.warning(
            f"{counts['outside_aoa']} of {valid} pixels with valid factors ({100 * (1 - run.aoa_share):.1f} %) "
            f"lie outside the area of applicability (dissimilarity index > {reference.threshold:.4g}): "
            "their factors differ from every sample more than the cross-validation tested, so neither "
            "the content nor its interval can be trusted there." +
            (" They were set to nodata." if settings.aoa_mask else " Use AOA_MASK to set them to nodata, or "
             "OUTPUT_AOA to see where they are."))
    if counts["clamped"]:
        monitor.warning(f"{counts['clamped']} pixels had a predicted content below 0 mg/kg (down to "
                        f"{run.lowest:.3g}); they were set to 0. The model extrapolates below its training "
                        "range there.")
    total = run.grid.width * run.grid.height
    if counts["written"] < LOW_COVERAGE_SHARE * total:
        monitor.warning(f"Only {counts['written']} of the {total} pixels of the output grid "
                        f"({100 * counts['written'] / total:.1f} %) have a content: the rest is nodata "
                        "(factor nodata or masked pixels). Check the factor rasters' nodata and extent.")


def predict_map(model, sources, output_path, uncertainty_path=None, extrapolation_path=None,
                extrapolation="aoa", monitor=NULL_MONITOR, block_size=1024, *, lower_path=None,
                upper_path=None, coverage=0.9, exceedance_path=None, threshold=None, aoa_path=None,
                aoa_mask=False, residual_kriging=False, kriging_neighbours=16, kriged_path=None):
    """run_mapping writing the given paths (None: not written), committed when it succeeds; returns
    MappingRun.summary. For scripts and the benchmarks: one call per map, no transaction needed."""
    paths = dict(zip(OUTPUT_KINDS, (output_path, uncertainty_path, extrapolation_path, lower_path,
                                    upper_path, exceedance_path, aoa_path, kriged_path)))
    settings = MappingSettings(extrapolation, coverage, threshold, aoa_mask, residual_kriging,
                               kriging_neighbours, block_size)
    with raster_io.RasterOutputs(paths) as rasters:
        return run_mapping(model, sources, rasters, settings, monitor).summary
