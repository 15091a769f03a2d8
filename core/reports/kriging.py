"""Residual kriging in the training and transfer runs: the record the model file keeps (in
model.cv["kriging"]), the RK_CV_* numbers, and the report section with the variogram figure.

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
from .cv import UNIT, cv_frame
from ..errors import SoilMetalError
from ..science.kriging import DEFAULT_NEIGHBOURS, geographic_to_local_metres
from .html import new_figure, format_number
from ..science.residual_kriging import (
    NO_STRUCTURE,
    VARIOGRAM_SOURCES,
    has_structure,
    regression_kriging_cv,
    residual_variogram,
)
from ..science.variogram import STRUCTURE_ALPHA, VariogramModel, empirical_variogram

NAN = float("nan")


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
    value = NAN if record is None else record["metrics"].get("RMSE")
    return {"RK_CV_RMSE": NAN if value is None else float(value)}


def verdict_text(model):
    """One sentence on whether kriging the residuals lowers the CV error."""
    record = stored_record(model)
    cv_rmse = float(model.cv["metrics"]["RMSE"])
    rk_rmse = float(record["metrics"]["RMSE"])
    if not record["structure"]:
        return f"Residual kriging: {NO_STRUCTURE} (the residuals show no spatial structure)."
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


def variogram_figure(record, title="Variogram of the out-of-fold residuals"):
    """The empirical variogram (gstat bins) with the fitted model, or None without bins."""
    empirical = record.get("empirical")
    if not empirical:
        return None
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    dist, gamma = np.asarray(empirical["dist"]), np.asarray(empirical["gamma"])
    ax.plot(dist, gamma, "o", color="#2b6f9e", label="empirical (pairs per bin as gstat)")
    if record.get("variogram"):
        vgm = VariogramModel.from_dict(record["variogram"])
        h = np.linspace(0, float(empirical["cutoff"]), 200)[1:]
        ax.plot(h, vgm.semivariance(h), "-", color="#c0392b",
                label=f"{vgm.model}: nugget {vgm.nugget:.3g}, partial sill {vgm.psill:.3g}, "
                      f"range {vgm.range:.0f} m")
    ax.set_xlabel("distance (m)")
    ax.set_ylabel("semivariance (model scale)")
    ax.set_ylim(0, None)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def kriging_section(report, model, model_name="GA-BP"):
    """Add the residual kriging section (nothing more than a line when CV was off)."""
    report.heading("Residual kriging (regression kriging), judged by the same CV")
    record = stored_record(model) if model.cv is not None else None
    if record is None:
        report.paragraph("Not available: it needs the out-of-fold residuals of cross-validation "
                         "(CV = 1 or 2).")
        return
    scale = "log(content)" if model.log_target else f"content ({UNIT})"
    source = ("fitted on the out-of-fold residuals" if record["variogram_source"] == "target"
              else "the source model's variogram with its sill rescaled to the variance of "
                   "these residuals")
    report.paragraph(
        f"The out-of-fold residuals ({scale}) are kriged by ordinary kriging from the "
        f"{record['neighbours']} nearest samples. Variogram: {source}, spherical model "
        "weighted by pairs / distance\u00b2 (gstat's fit.variogram default) on gstat's bins "
        "(cutoff a third of the samples' bounding-box diagonal, 15 bins). In each CV fold the "
        "variogram is refit on that fold's training residuals only and the held-out residuals "
        "are kriged from the training samples, so the error below is out-of-fold too.")
    if record.get("variogram"):
        vgm = VariogramModel.from_dict(record["variogram"])
        p_value = record.get("p_value")
        if p_value is not None and p_value >= STRUCTURE_ALPHA:
            # The fitted curve alone would claim a structure the permutation test does not support.
            text = (f"{vgm.summary()} (nugget-to-sill ratio {vgm.nugget_ratio:.2f}). A fit this "
                    "good also arises for the same residuals shuffled between the sample locations "
                    f"(permutation test p = {p_value:.2g}, not significant at {STRUCTURE_ALPHA:g}), "
                    "so no spatial structure is established.")
        else:
            text = vgm.describe()
            if p_value is not None:
                text += (f" Permutation test of spatial structure: p = {p_value:.2g} "
                         f"(significant at {STRUCTURE_ALPHA:g}).")
        report.paragraph(text)
    if record.get("note"):
        report.paragraph(f"Notes: {record['note']}.")
    report.note(verdict_text(model), "info" if record["structure"] else "warning")
    report.table(cv_frame(model.cv, {model_name: model.cv["metrics"],
                                     f"{model_name} + kriged residuals": record["metrics"]}),
                 float_format=format_number,
                 caption="Cross-validated error of the model and of model + kriged residuals")
    figure = variogram_figure(record)
    if figure is not None:
        report.figure(figure, caption="Empirical semivariogram of the out-of-fold residuals and "
                                      "the fitted model")
