"""Regression kriging judged by cross-validation: model + ordinary kriging of its residuals.

The residuals are the model's out-of-fold residuals on the model's scale (log(observed) -
log(prediction) for a LOG_TARGET model; SCHEMA.md, model.cv). In each fold the variogram is
refitted on the fold's training residuals only, the held-out residuals are kriged from those
training samples, and the kriged residual is added to the out-of-fold prediction on the
model's scale. The metrics of these predictions against the observed contents are the CV
metrics of regression kriging (RK_CV_*), directly comparable with the model's CV metrics.

A fold whose training residuals show no spatial structure (a pure nugget variogram, or a
permutation test that finds no structure at the 5 % level: variogram.structure_p_value) adds
nothing (kriged residual 0), as the map does; so does a fold whose variogram cannot be fitted
(too few samples), with a note.

For a transferred model with few target samples, the variogram can be borrowed from the
source survey with its sill rescaled to the variance of the target residuals
(VARIOGRAM_SOURCES "source-rescaled") instead of fitted on the target residuals ("target").
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import SoilMetalError
from .kriging import DEFAULT_NEIGHBOURS, OrdinaryKriging
from .metrics import regression_metrics, rmse
from ..monitor import NULL_MONITOR
from .variogram import (STRUCTURE_ALPHA, VariogramModel, fit_residual_variogram,
                        structure_p_value)

VARIOGRAM_SOURCES = ("target", "source-rescaled")
NO_STRUCTURE = "no spatial structure: kriging adds nothing"


def to_model_scale(prediction, log_target):
    """A prediction (mg/kg) on the model's scale: log when log_target."""
    prediction = np.asarray(prediction, dtype=float)
    if log_target:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(prediction)
    return prediction


def from_model_scale(values, log_target):
    """Back to mg/kg: exp when log_target."""
    values = np.asarray(values, dtype=float)
    return np.exp(values) if log_target else values


def fold_variogram(x, y, residual, model="spherical", source=None, variogram_source="target",
                   rng=None):
    """The variogram for kriging residual (n,) at x, y -> (VariogramModel or None, note, p).

    Fitted on the residuals ("target"), with p the permutation p-value of their spatial
    structure; or `source` with its sill rescaled to the residuals' variance
    ("source-rescaled"), p None (the structure is the source survey's). None when it cannot
    be fitted (the note says why).
    """
    if variogram_source not in VARIOGRAM_SOURCES:
        raise SoilMetalError(f"Unknown variogram source '{variogram_source}': use one of "
                             f"{', '.join(VARIOGRAM_SOURCES)}.")
    if variogram_source == "source-rescaled":
        if source is None:
            raise SoilMetalError("A source variogram to rescale was asked for, but the source "
                                 "model stores none: retrain the source model with this version.")
        variance = float(np.var(residual, ddof=1)) if len(residual) > 1 else 0.0
        if not variance > 0:
            return None, "the residuals do not vary", None
        return source.scaled(variance), "", None
    try:
        _, fit = fit_residual_variogram(x, y, residual, model)
    except SoilMetalError as error:
        return None, str(error), None
    return fit.model, fit.warning, structure_p_value(x, y, residual, model, rng)


def has_structure(vgm, p_value):
    """True when kriging with vgm can add something: not pure nugget, and (if tested) the
    structure is significant at STRUCTURE_ALPHA."""
    return (vgm is not None and not vgm.pure_nugget
            and (p_value is None or p_value < STRUCTURE_ALPHA))


@dataclass
class RegressionKrigingCV:
    """CV of model + kriged residuals: metrics (RK), the model's metrics on the same samples,
    per-sample out-of-fold RK predictions (mg/kg), kriged residuals and kriging variances
    (model scale), per-fold variograms (dicts or None) and notes for the report."""

    metrics: dict
    model_metrics: dict
    prediction: np.ndarray
    kriged_residual: np.ndarray
    variance: np.ndarray
    fold_variograms: list
    notes: list = field(default_factory=list)
    structure: bool = True

    def summary(self):
        """RK_CV_* entries for a report or a result dict."""
        return {f"RK_CV_{key}": value for key, value in self.metrics.items()}

    def verdict(self):
        """One sentence: does kriging the residuals help on these samples?"""
        if not self.structure:
            return f"Regression kriging: {NO_STRUCTURE}."
        model, kriged = self.model_metrics["RMSE"], self.metrics["RMSE"]
        change = 100.0 * (kriged - model) / model if model > 0 else float("nan")
        word = "lowers" if kriged < model else "does not lower"
        return (f"Regression kriging {word} the CV RMSE: {kriged:.4g} against {model:.4g} for the "
                f"model alone ({change:+.1f} %).")


def _fold_metrics(observed, predicted, fold):
    """regression_metrics plus RMSE_fold_sd (the spread of the per-fold RMSE)."""
    metrics = regression_metrics(observed, predicted)
    per_fold = [rmse(observed[fold == f], predicted[fold == f]) for f in np.unique(fold)]
    metrics["RMSE_fold_sd"] = float(np.std(per_fold, ddof=1)) if len(per_fold) > 1 else float("nan")
    return metrics


def regression_kriging_cv(x, y, observed, prediction, residual, fold, log_target,
                          model="spherical", neighbours=DEFAULT_NEIGHBOURS, max_distance=None,
                          source_variogram=None, variogram_source="target", rng=None,
                          monitor=NULL_MONITOR):
    """RegressionKrigingCV of out-of-fold predictions (mg/kg) plus kriged out-of-fold residuals.

    x, y (n,) in metres; observed, prediction (n,) mg/kg; residual (n,) on the model's scale
    (SCHEMA.md model.cv); fold (n,) fold index of each sample. A fold kriges only when its
    training residuals show spatial structure (has_structure); rng drives the permutation test.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x, y, observed, prediction, residual = (np.asarray(a, dtype=float).ravel()
                                            for a in (x, y, observed, prediction, residual))
    fold = np.asarray(fold).ravel()
    if not (x.size == y.size == observed.size == prediction.size == residual.size == fold.size):
        raise SoilMetalError("The model file's samples and CV residuals differ in length: "
                             "retrain the model to write them again.")
    usable = np.isfinite(x) & np.isfinite(y) & np.isfinite(residual)
    kriged = np.zeros(x.size)
    variance = np.full(x.size, np.nan)
    notes, variograms = [], []
    structure_seen = False
    folds = np.unique(fold)
    for number, value in enumerate(folds):
        monitor.check_cancelled()
        test = (fold == value) & usable
        train = (fold != value) & usable
        vgm, note, p_value = fold_variogram(x[train], y[train], residual[train], model,
                                            source_variogram, variogram_source, rng)
        if vgm is None or not test.any():
            variograms.append(None)
            if note:
                notes.append(f"fold {value}: variogram not fitted ({note}); no kriging there")
            continue
        variograms.append(dict(vgm.to_dict(), p_value=p_value))
        if not has_structure(vgm, p_value):
            variance[test] = vgm.sill
            continue
        structure_seen = True
        kriging = OrdinaryKriging(x[train], y[train], residual[train], vgm, neighbours,
                                  max_distance, monitor)
        kriged[test], variance[test] = kriging.predict(x[test], y[test])
        monitor.set_progress(100.0 * (number + 1) / folds.size)
    combined = from_model_scale(to_model_scale(prediction, log_target) + kriged, log_target)
    result = RegressionKrigingCV(_fold_metrics(observed, combined, fold),
                                 _fold_metrics(observed, prediction, fold), combined, kriged,
                                 variance, variograms, notes, structure_seen)
    if not structure_seen:
        result.notes.append(NO_STRUCTURE)
    return result


def residual_variogram(x, y, residual, model="spherical", source_variogram=None,
                       variogram_source="target", rng=None):
    """(VariogramModel or None, note, p) of all residuals: the one the map is kriged with."""
    keep = np.isfinite(np.asarray(residual, dtype=float))
    return fold_variogram(np.asarray(x, float)[keep], np.asarray(y, float)[keep],
                          np.asarray(residual, float)[keep], model, source_variogram,
                          variogram_source, rng)


__all__ = ["VARIOGRAM_SOURCES", "NO_STRUCTURE", "RegressionKrigingCV", "regression_kriging_cv",
           "residual_variogram", "fold_variogram", "has_structure", "to_model_scale",
           "from_model_scale", "VariogramModel"]
