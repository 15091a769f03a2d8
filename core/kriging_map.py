"""Residual kriging of a content map (predictcontent's RESIDUAL_KRIGING) and its intervals.

The model's out-of-fold residuals (model.cv, on the model's scale) are kriged onto the map grid
with the variogram the training stored (model.cv["kriging"], see kriging_report.py), and the
kriged residual is added to the model's prediction on the model's scale (log for LOG_TARGET).

Samples whose CRS is not the map's are transformed to it (raster_io); on a geographic map CRS
the samples and the pixel centres go onto one local plane in metres about the samples' centre.
The map is kriged exactly at nodes `kriging.node_step` pixels apart (every pixel when the
samples are dense) and interpolated bilinearly between them.

Intervals and exceedance with kriging are calibrated like the model's own (split-conformal on
out-of-fold residuals, core/intervals.py), on the residuals of regression kriging scaled by the
kriging standard deviation each held-out sample had: score = (residual - kriged) / sd. A
pixel's interval is its RK prediction plus the scores' quantiles times its own kriging sd, so
the band is narrow near samples and widens away from them, with the coverage of the CV.
"""

import numpy as np

from . import raster_io
from .errors import SoilMetalError
from .intervals import ResidualDistribution, check_coverage, check_threshold
from .kriging import DEFAULT_NEIGHBOURS, KrigedSurface, OrdinaryKriging, geographic_to_local_metres, node_step
from .kriging_report import geographic_centre, kriging_record, stored_record
from .model_file import require_cv, require_samples
from .variogram import VariogramModel

FEATURE = "residual kriging (RESIDUAL_KRIGING)"
_SD_FLOOR = 1e-6      # share of the sill: the smallest kriging variance an interval uses


class MapKriging:
    """The kriged residual surface of a model on a grid, and the RK interval calibration."""

    def __init__(self, surface, variogram, scores, log_target, step):
        self.surface = surface
        self.variogram = variogram
        self.scores = scores
        self.log_target = log_target
        self.step = step

    def window(self, window, valid):
        """(kriged residual, kriging sd) (pixels,) on the model's scale for a blocks.Window."""
        estimate, variance = self.surface.window(window, valid)
        floor = _SD_FLOOR * self.variogram.sill
        return estimate, np.sqrt(np.maximum(variance, floor))

    def distribution(self, feature):
        """A ScaledDistribution of the RK scores; SoilMetalError when too few."""
        if self.scores.size < 2:
            raise SoilMetalError(f"{feature} with RESIDUAL_KRIGING need at least 2 cross-validation "
                                 "residuals: retrain the model on more samples.")
        return ScaledDistribution(self.scores, self.log_target)


class ScaledDistribution:
    """Conformal scores (residual / sd) whose interval and exceedance scale with a per-pixel sd.

    bind(sd) gives an object with ResidualDistribution's interval(centre, coverage) and
    exceedance(centre, threshold), so predict_map calls it the same way.
    """

    def __init__(self, scores, log_target):
        self.scores = ResidualDistribution(scores, log_target=False)
        self.log_target = log_target
        self.n = self.scores.n

    def quantile_offsets(self, coverage):
        """(low, high) score quantiles (multiples of the kriging sd)."""
        return self.scores.quantile_offsets(coverage)

    def bind(self, sd):
        """This distribution at pixels whose kriging sd (model scale) is sd (m,)."""
        return _Bound(self, np.asarray(sd, dtype=float))


class _Bound:
    def __init__(self, parent, sd):
        self.parent, self.sd = parent, sd

    def interval(self, centre, coverage):
        """Lower and upper bounds (mg/kg, clamped at 0) around RK predictions centre (model scale)."""
        low, high = self.parent.quantile_offsets(check_coverage(coverage))
        centre = np.asarray(centre, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            lower, upper = centre + low * self.sd, centre + high * self.sd
            if self.parent.log_target:
                lower, upper = np.exp(lower), np.exp(upper)
        known = np.isfinite(centre)
        return (np.where(known, np.maximum(lower, 0.0), np.nan),
                np.where(known, np.maximum(upper, 0.0), np.nan))

    def exceedance(self, centre, threshold):
        """P(content > threshold mg/kg) at RK predictions centre (model scale)."""
        threshold = check_threshold(threshold)
        if self.parent.log_target:
            with np.errstate(divide="ignore"):
                threshold = np.log(threshold)
        centre = np.asarray(centre, dtype=float)
        # P(centre + score * sd > t) = P(score > (t - centre) / sd): the scores' own exceedance
        # of 1 at the shifted centre 1 + (centre - t) / sd (the scores are on a linear scale).
        return self.parent.scores.exceedance(1.0 + (centre - threshold) / self.sd, 1.0)


def map_kriging(model, grid, neighbours=DEFAULT_NEIGHBOURS, monitor=None):
    """MapKriging of model on grid (raster_io info), or None when the residuals have no spatial
    structure (then the map is the model's alone; a warning says so)."""
    require_samples(model, FEATURE)
    cv = require_cv(model, FEATURE)
    record = stored_record(model)
    if record is None or int(record.get("neighbours", neighbours)) != int(neighbours):
        if monitor is not None:
            monitor.info("Fitting the residual variogram and its cross-validation for "
                         f"{neighbours} kriging neighbours from the model file's out-of-fold residuals.")
        record = kriging_record(model, neighbours)[0]
    if not record["structure"] or record.get("variogram") is None:
        if monitor is not None:
            monitor.warning("RESIDUAL_KRIGING: the model's out-of-fold residuals show no spatial "
                            f"structure ({record.get('note') or 'pure nugget'}), so kriging adds "
                            "nothing: the map is the model's prediction alone, its intervals the "
                            "model's own.")
        return None
    variogram = VariogramModel.from_dict(record["variogram"])
    samples = model.samples
    x, y = raster_io.transform_xy(samples["x"], samples["y"], samples.get("crs", ""), grid.crs_wkt)
    residual = np.asarray(cv["residual"], dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(residual)
    if not keep.any():
        raise SoilMetalError("None of the model's samples can be placed in the map's CRS: check "
                             "that the factor rasters cover the area the model was trained on.")
    x, y, residual = x[keep], y[keep], residual[keep]
    to_metres = None
    if raster_io.is_geographic(grid.crs_wkt):
        lon0, lat0 = geographic_centre(x, y)
        x, y = geographic_to_local_metres(x, y, lon0, lat0)

        def to_metres(px, py):
            return geographic_to_local_metres(px, py, lon0, lat0)
    kwargs = {"monitor": monitor} if monitor is not None else {}
    kriging = OrdinaryKriging(x, y, residual, variogram, neighbours, **kwargs)
    dx, dy = raster_io.pixel_size_metres(grid)
    step = node_step(kriging, float(min(np.min(dx), np.min(dy))))
    surface = KrigedSurface(kriging, grid.geotransform, grid.width, grid.height, step, to_metres)
    scores = _scores(record, residual_all=np.asarray(cv["residual"], dtype=float), sill=variogram.sill)
    if monitor is not None:
        monitor.info(f"Residual kriging: {variogram.describe()} {kriging.x.size} sample locations, "
                     f"{kriging.k} neighbours; kriged exactly every {step} pixel(s)"
                     + (", bilinear between." if step > 1 else "."))
    return MapKriging(surface, variogram, scores, model.log_target, step)


def _scores(record, residual_all, sill):
    """Out-of-fold RK residuals over their kriging sd (n,), finite ones only."""
    kriged = np.asarray(record.get("kriged") or np.zeros(residual_all.size), dtype=float)
    variance = np.asarray(record.get("variance") or np.full(residual_all.size, sill), dtype=float)
    if kriged.size != residual_all.size or variance.size != residual_all.size:
        raise SoilMetalError("The model file's residual kriging record does not match its samples: "
                             "retrain the model with 'Train GA-BP model'.")
    variance = np.where(np.isfinite(variance), variance, sill)
    sd = np.sqrt(np.maximum(variance, _SD_FLOOR * sill))
    scores = (residual_all - np.nan_to_num(kriged)) / sd
    return scores[np.isfinite(scores)]
