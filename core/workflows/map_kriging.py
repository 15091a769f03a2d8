"""Residual kriging of a content map (predictcontent's RESIDUAL_KRIGING) and its intervals.

The model's out-of-fold residuals (model.cv, on the model's scale) are kriged onto the map grid
with the variogram the training stored (model.cv["kriging"], see kriging_record.py), and the
kriged residual is added to the model's prediction on the model's scale (log for LOG_TARGET).

Samples whose CRS is not the map's are transformed to it (raster_io); on a geographic map CRS
the samples and the pixel centres go onto one local plane in metres about the samples' centre.
The map is kriged exactly at nodes `kriging.node_step` pixels apart (every pixel when the
samples are dense) and interpolated bilinearly between them.

Intervals and exceedance with kriging are calibrated like the model's own (split-conformal,
core/science/intervals.py) on the out-of-fold residuals of regression kriging (residual - kriged, each
held-out sample kriged from its fold's training samples): a band of constant width on the
model's scale around the RK prediction. Scaling those residuals by each sample's kriging sd and
the band by each pixel's own sd (narrow near samples) was tried and dropped: spatial CV holds
out whole clusters, so the held-out samples' sd is large while pixels near samples get a tiny
one, and a variogram fitted on a few dozen residuals rarely gets the nugget right; on the demo
(Pb, Tr-GA-BP, 42 samples, nugget 1 % of the sill) its 90 % band covered 0.654 of the true
map's pixels, the plain band 0.888.
"""

import numpy as np

from .. import raster_io
from ..errors import SoilMetalError
from ..science.intervals import ResidualDistribution
from ..science.kriging import (DEFAULT_NEIGHBOURS, KrigedSurface, OrdinaryKriging,
                               geographic_to_local_metres, node_step)
from .kriging_record import geographic_centre, kriging_record, stored_record
from ..model_file import require_cv, require_samples
from ..science.variogram import VariogramModel

FEATURE = "residual kriging (RESIDUAL_KRIGING)"


class MapKriging:
    """The kriged residual surface of a model on a grid, and the RK interval calibration."""

    METHOD = ("regression kriging: split-conformal on the out-of-fold residuals of model + "
              "kriging (constant width on the model's scale)")

    def __init__(self, surface, variogram, residuals, log_target, step):
        self.surface = surface
        self.variogram = variogram
        self.residuals = residuals
        self.log_target = log_target
        self.step = step

    def window(self, window, valid):
        """The kriged residual (pixels,) on the model's scale for a blocks.Window."""
        return self.surface.window(window, valid)

    def distribution(self, feature):
        """The ResidualDistribution of the RK out-of-fold residuals; SoilMetalError when too few."""
        if self.residuals.size < 2:
            raise SoilMetalError(f"{feature} with RESIDUAL_KRIGING need at least 2 cross-validation "
                                 "residuals: retrain the model on more samples.")
        return ResidualDistribution(self.residuals, self.log_target)


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
    residuals = rk_residuals(record, np.asarray(cv["residual"], dtype=float))
    if monitor is not None:
        monitor.info(f"Residual kriging: {variogram.describe()} {kriging.x.size} sample locations, "
                     f"{kriging.k} neighbours; kriged exactly every {step} pixel(s)"
                     + (", bilinear between." if step > 1 else "."))
    return MapKriging(surface, variogram, residuals, model.log_target, step)


def rk_residuals(record, residual):
    """Out-of-fold residuals of regression kriging (residual - kriged) (n,), finite ones only."""
    kriged = np.asarray(record.get("kriged") or np.zeros(residual.size), dtype=float)
    if kriged.size != residual.size:
        raise SoilMetalError("The model file's residual kriging record does not match its samples: "
                             "retrain the model with 'Train GA-BP model'.")
    rk = residual - np.nan_to_num(kriged)
    return rk[np.isfinite(rk)]
