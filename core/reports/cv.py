"""Report pieces for cross-validation: the lead verdict, the side-by-side table, the figure and
the CV part of the JSON (the verdict's sentence comes from core/workflows/cv_verdict.py).

The lead note goes right below a report's introduction: when the model does not beat the
training mean out of fold, the reader learns it before any other number.
"""

import numpy as np
import pandas as pd

from ..science.metrics import UNIT
from ..text import format_number
from ..workflows.cv_verdict import SCHEME_TEXT, metric_value, verdict_text
from .figures import predicted_vs_measured


def cv_lead_note(report, cv, model_name="The model"):
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
        frame[name] = [metric_value(metrics, "RMSE"), metric_value(metrics, "RMSE_fold_sd"),
                       100.0 * metric_value(metrics, "MRE"), metric_value(metrics, "MAE"),
                       metric_value(metrics, "R2"), int(metric_value(metrics, "N"))]
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


def cv_figure_data(cv):
    """The CV section of a report's JSON (None without CV)."""
    if cv is None:
        return None
    keys = ("scheme", "folds", "fold", "prediction", "residual", "metrics", "mean_metrics",
            "mlr_metrics", "fold_rmse", "mean_prediction", "mlr_prediction")
    return {key: cv.get(key) for key in keys}
