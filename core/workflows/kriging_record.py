"""Residual kriging in the training and transfer runs: the record the model file keeps (in
model.cv["kriging"]), computed from the out-of-fold residuals, the RK_CV_* numbers and the
verdict sentence (core/reports/kriging.py draws the report section from the record).

The record, computed from a model's out-of-fold residuals (SCHEMA.md model.cv):
  {"variogram": {model, nugget, psill, range} or None,  # of all out-of-fold residuals
   "p_value": float or None,       # permutation test of spatial structure (None: borrowed)
   "structure": bool,              # all residuals show structure: the map kriges only then
                                   # (without it the RK metrics are the model's own)
   "variogram_source": "target" | "source-rescaled",
   "empirical": {np, dist, gamma, cutoff, width} or None,
   "coordinates": "projected" | "geographic",   # how distances in metres were obtained
   "neighbours": int, "metrics": {...} (RK CV metrics),
   "kriged": [...], "variance": [...],   # per sample: out-of-fold kriged residual and kriging
                                         # variance (model scale; None where not kriged)
   "note": str}
"""

import numpy as np

from .. import raster_io
from ..errors import SoilMetalError
from ..science.kriging import DEFAULT_NEIGHBOURS, geographic_to_local_metres
from ..science.metrics import UNIT
from ..science.residual_kriging import (
    NO_STRUCTURE,
    VARIOGRAM_SOURCES,
    has_structure,
    regression_kriging_cv,
    residual_variogram,
)
from ..science.variogram import VariogramModel, empirical_variogram
from ..text import format_number
from .cv_verdict import NAN, metric_value


def sample_metres(samples):
    """(x, y) (n,) in metres of model.samples, and 'projected' or 'geographic'.

    Geographic coordinates go onto a local plane about the samples' mean position
    (kriging.geographic_to_local_metres); projected ones are taken as metres.
    """
    x = np.asarray(samples["x"], dtype=float)
    y = np.asarray(samples["y"], dtype=float)
    if samples.get("crs") and raster_io.is_geographic(samples["crs"]):
        return (*geographic_to_local_metres(x, y, *geographic_centre(x, y)), "geographic")
    return x, y, "projected"


def geographic_centre(lon, lat):
    """(lon0, lat0): the centre of the local plane for geographic sample coordinates."""
    return float(np.nanmean(lon)), float(np.nanmean(lat))


def kriging_record(model, neighbours=DEFAULT_NEIGHBOURS, source_variogram=None,
                   variogram_source="target", monitor=None):
    """The record above for a model with samples and cv, plus its RegressionKrigingCV."""
    if variogram_source not in VARIOGRAM_SOURCES:
        raise SoilMetalError(f"Unknown variogram source '{variogram_source}'.")
    samples, cv = model.samples, model.cv
    x, y, kind = sample_metres(samples)
    residual = np.asarray(cv["residual"], dtype=float)
    rng = np.random.default_rng(model.seed)
    kwargs = {"monitor": monitor} if monitor is not None else {}
    try:
        return _record(x, y, kind, samples, cv, residual, model.log_target, neighbours,
                       source_variogram, variogram_source, rng, kwargs)
    except SoilMetalError as error:     # kriging is a diagnostic here: it must not stop training
        return ({"variogram": None, "p_value": None, "structure": False,
                 "variogram_source": variogram_source, "empirical": None, "coordinates": kind,
                 "neighbours": int(neighbours), "metrics": dict(cv["metrics"]),
                 "note": f"residual kriging not possible: {error}"}, None)


def _record(x, y, kind, samples, cv, residual, log_target, neighbours, source_variogram,
            variogram_source, rng, kwargs):
    """kriging_record's work, which may raise SoilMetalError."""
    result = regression_kriging_cv(x, y, samples["observed"], cv["prediction"], residual,
                                   cv["fold"], log_target, neighbours=neighbours,
                                   source_variogram=source_variogram,
                                   variogram_source=variogram_source, rng=rng, **kwargs)
    vgm, note, p_value = residual_variogram(x, y, residual, source_variogram=source_variogram,
                                            variogram_source=variogram_source, rng=rng)
    try:
        keep = np.isfinite(residual)
        empirical = empirical_variogram(x[keep], y[keep], residual[keep]).to_dict()
    except SoilMetalError:
        empirical = None
    # The map kriges only when all residuals show structure; without it RK is the model.
    structure = bool(has_structure(vgm, p_value))
    record = {"variogram": None if vgm is None else vgm.to_dict(), "p_value": p_value,
              "structure": structure, "variogram_source": variogram_source,
              "empirical": empirical, "coordinates": kind, "neighbours": int(neighbours),
              "metrics": result.metrics if structure else dict(cv["metrics"]),
              "kriged": [float(v) for v in result.kriged_residual],
              "variance": [float(v) for v in result.variance],
              "note": "; ".join([note] + result.notes).strip("; ")}
    return record, result


# Below this many target samples a transferred model borrows the source survey's variogram
# (sill rescaled to the target residuals) rather than fitting its own: see README,
# "Regression kriging on Meuse" (bench/real_data_meuse_kriging.py, table 2).
BORROW_BELOW = 30


def transfer_kriging_record(model, source, neighbours=DEFAULT_NEIGHBOURS):
    """kriging_record of a transferred model: with the source model's variogram rescaled when
    there are fewer than BORROW_BELOW target samples and the source has a structured one."""
    source_record = stored_record(source) if source.cv is not None else None
    borrow = (len(model.samples["x"]) < BORROW_BELOW and source_record is not None
              and source_record["structure"] and source_record.get("variogram") is not None)
    if not borrow:
        return kriging_record(model, neighbours)
    return kriging_record(model, neighbours, VariogramModel.from_dict(source_record["variogram"]),
                          "source-rescaled")


def stored_record(model):
    """model.cv["kriging"], validated, or None when the file has none."""
    record = (model.cv or {}).get("kriging")
    if record is None:
        return None
    if not isinstance(record, dict) or "structure" not in record or "metrics" not in record:
        raise SoilMetalError("The model file's residual kriging record is damaged: retrain the "
                             "model with 'Train GA-BP model' to write it again.")
    if record.get("variogram") is not None:
        VariogramModel.from_dict(record["variogram"])
    return record


def kriging_summary(model):
    """{"RK_CV_RMSE": ...}: NaN without a kriging record (CV off)."""
    record = stored_record(model) if model.cv is not None else None
    return {"RK_CV_RMSE": metric_value(record["metrics"] if record is not None else None, "RMSE")}


def verdict_text(model):
    """One sentence on whether kriging the residuals lowers the CV error."""
    record = stored_record(model)
    cv_rmse = float(model.cv["metrics"]["RMSE"])
    rk_rmse = float(record["metrics"]["RMSE"])
    if not record["structure"]:
        return f"Residual kriging: {NO_STRUCTURE}; leave RESIDUAL_KRIGING off."
    change = 100.0 * (rk_rmse - cv_rmse) / cv_rmse if cv_rmse > 0 else NAN
    if rk_rmse < cv_rmse:
        return (f"Residual kriging lowers the cross-validated RMSE from {format_number(cv_rmse)} to "
                f"{format_number(rk_rmse)} {UNIT} ({change:+.1f} %): RESIDUAL_KRIGING in "
                "'Predict content map' is worth turning on for this model.")
    return (f"Residual kriging does not lower the cross-validated RMSE ({format_number(rk_rmse)} "
            f"against {format_number(cv_rmse)} {UNIT}): leave RESIDUAL_KRIGING off.")


def log_kriging_result(model, monitor):
    """Log the kriging verdict."""
    monitor.info(verdict_text(model))

