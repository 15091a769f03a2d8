"""Report pieces for cross-validation: the lead verdict, the side-by-side table, the log lines.

The lead note goes right below a report's introduction: when the model does not beat the
training mean out of fold, the reader learns it before any other number.
"""

import numpy as np
import pandas as pd

from .html import format_number, predicted_vs_measured
from ..science.metrics import UNIT

SCHEME_TEXT = {"spatial": "spatial k-fold (k-means clusters of the sample locations held out "
                          "whole)",
               "random": "random k-fold",
               "leave-one-out": "leave-one-out (every sample its own fold; used below 15 samples)"}
NAN = float("nan")


def _value(metrics, key):
    """metrics[key] as a float (None -> NaN)."""
    value = (metrics or {}).get(key)
    return NAN if value is None else float(value)


def cv_summary(cv):
    """The numbers traingabp / transfergabp return for a model.cv dict (NaN without CV)."""
    if cv is None:
        return {"CV_RMSE": NAN, "CV_MRE": NAN, "CV_R2": NAN, "MEAN_CV_RMSE": NAN,
                "MLR_CV_RMSE": NAN}
    return {"CV_RMSE": _value(cv["metrics"], "RMSE"), "CV_MRE": _value(cv["metrics"], "MRE"),
            "CV_R2": _value(cv["metrics"], "R2"),
            "MEAN_CV_RMSE": _value(cv["mean_metrics"], "RMSE"),
            "MLR_CV_RMSE": _value(cv["mlr_metrics"], "RMSE")}


def beats_mean(cv):
    """True when the model's CV RMSE is below the training mean's."""
    return _value(cv["metrics"], "RMSE") < _value(cv["mean_metrics"], "RMSE")


def verdict_text(cv, model_name="The model"):
    """One sentence comparing the model's CV RMSE with the mean's and MLR's."""
    model, mean, mlr = (_value(cv[key], "RMSE") for key in ("metrics", "mean_metrics",
                                                            "mlr_metrics"))
    scheme = SCHEME_TEXT.get(cv["scheme"], cv["scheme"])
    head = (f"Cross-validated ({scheme}, {cv['folds']} folds, {len(cv['fold'])} samples): "
            f"{model_name} RMSE {format_number(model)} {UNIT}, predicting the training mean "
            f"{format_number(mean)}, linear regression on the same factors {format_number(mlr)}.")
    if not beats_mean(cv):
        return (f"{model_name} does not beat predicting the mean of the training samples. "
                + head + " The factors explain little of the content at samples away from the "
                "training samples, or the network overfits: do not use its map as more than the "
                "mean; try LOG_TARGET, fewer factors, ENSEMBLE 5 or more samples.", "warning")
    if not model < mlr:
        return (head + f" {model_name} beats the mean but not the linear regression: "
                "the network adds nothing a linear fit would not give.", "warning")
    return head, "info"


def cv_lead_note(report, cv, log_target=False, model_name="The model"):
    """Add the CV verdict at the top of a report (or say that CV was off)."""
    if cv is None:
        report.note("Cross-validation was off (CV = 0): only the hold-out below judges the "
                    "model, the model file holds no out-of-fold residuals, and prediction "
                    "intervals, the area of applicability and residual kriging are not "
                    "available for it.", "warning")
        return
    text, kind = verdict_text(cv, model_name)
    report.note(text, kind)


def cv_frame(cv, columns=None):
    """Side-by-side CV metrics: rows RMSE .. N, columns the model and the two baselines."""
    columns = columns or {"GA-BP (model)": cv["metrics"], "training mean": cv["mean_metrics"],
                          "linear regression (MLR)": cv["mlr_metrics"]}
    rows = [f"RMSE ({UNIT})", f"RMSE fold sd ({UNIT})", "MRE (%)", f"MAE ({UNIT})", "R\u00b2",
            "N (samples)"]
    frame = {"": rows}
    for name, metrics in columns.items():
        frame[name] = [_value(metrics, "RMSE"), _value(metrics, "RMSE_fold_sd"),
                       100.0 * _value(metrics, "MRE"), _value(metrics, "MAE"),
                       _value(metrics, "R2"), int(_value(metrics, "N"))]
    return pd.DataFrame(frame)


def cv_section(report, cv, samples, log_target=False, columns=None, predictions=None):
    """Add the cross-validation section: method, side-by-side table, out-of-fold figure."""
    report.heading("Cross-validation (out-of-fold, every sample)")
    if cv is None:
        report.paragraph("Not run (CV = 0).")
        return
    report.paragraph(
        f"Scheme: {SCHEME_TEXT.get(cv['scheme'], cv['scheme'])}; {cv['folds']} folds. Every "
        "fold's model is refit with the same settings on the other folds and predicts the "
        "held-out fold, so each sample gets one prediction from a model that never saw it. "
        "The training mean and a multiple linear regression on the same factors"
        + (" (both on log(content), back-transformed by exp like the network)" if log_target
           else "") + " are refit on the same folds. Spatial folds hold out whole groups of "
        "neighbouring samples: their error is that of mapping away from the samples, which "
        "random folds understate where samples are clustered.")
    report.table(cv_frame(cv, columns), float_format=format_number,
                 caption="Cross-validated error of the model and of the two baselines; RMSE fold "
                         "sd = standard deviation of the per-fold RMSE")
    observed = np.asarray(samples["observed"], dtype=float)
    sets = predictions or {"GA-BP": (observed, np.asarray(cv["prediction"], dtype=float)),
                           "MLR": (observed, np.asarray(cv["mlr_prediction"], dtype=float))}
    report.figure(predicted_vs_measured(sets, title="Out-of-fold predictions"),
                  caption="Out-of-fold prediction vs measured content; the dashed line is 1:1")


def log_cv_result(cv, monitor):
    """Log the CV verdict (a warning when the model does not beat the mean)."""
    text, kind = verdict_text(cv)
    (monitor.warning if kind == "warning" else monitor.info)(text)


def cv_figure_data(cv):
    """The CV section of a report's JSON (None without CV)."""
    if cv is None:
        return None
    keys = ("scheme", "folds", "fold", "prediction", "residual", "metrics", "mean_metrics",
            "mlr_metrics", "fold_rmse", "mean_prediction", "mlr_prediction")
    return {key: cv.get(key) for key in keys}
