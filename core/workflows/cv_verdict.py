"""The cross-validation verdict: the CV_* numbers traingabp returns and the sentence that judges
the model against the training mean and linear regression (logged by the workflow, shown first
in the report)."""

from ..science.metrics import UNIT
from ..text import format_number

SCHEME_TEXT = {"spatial": "spatial k-fold (k-means clusters of the sample locations held out "
                          "whole)",
               "random": "random k-fold",
               "leave-one-out": "leave-one-out (every sample its own fold; used below 15 samples)"}
NAN = float("nan")


def metric_value(metrics, key):
    """metrics[key] as a float (None -> NaN)."""
    value = (metrics or {}).get(key)
    return NAN if value is None else float(value)


def cv_summary(cv):
    """The numbers traingabp / transfergabp return for a model.cv dict (NaN without CV)."""
    if cv is None:
        return {"CV_RMSE": NAN, "CV_MRE": NAN, "CV_R2": NAN, "MEAN_CV_RMSE": NAN,
                "MLR_CV_RMSE": NAN}
    return {"CV_RMSE": metric_value(cv["metrics"], "RMSE"), "CV_MRE": metric_value(cv["metrics"], "MRE"),
            "CV_R2": metric_value(cv["metrics"], "R2"),
            "MEAN_CV_RMSE": metric_value(cv["mean_metrics"], "RMSE"),
            "MLR_CV_RMSE": metric_value(cv["mlr_metrics"], "RMSE")}


def beats_mean(cv):
    """True when the model's CV RMSE is below the training mean's."""
    return metric_value(cv["metrics"], "RMSE") < metric_value(cv["mean_metrics"], "RMSE")


def verdict_text(cv, model_name="The model"):
    """One sentence comparing the model's CV RMSE with the mean's and MLR's."""
    model, mean, mlr = (metric_value(cv[key], "RMSE")
                        for key in ("metrics", "mean_metrics", "mlr_metrics"))
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


def log_cv_result(cv, monitor):
    """Log the CV verdict (a warning when the model does not beat the mean)."""
    text, kind = verdict_text(cv)
    monitor.note(text, kind)
