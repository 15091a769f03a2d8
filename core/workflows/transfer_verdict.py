"""transfergabp's verdict in words and numbers: the cross-validated comparison of the five models,
the model to map with, the lead notes the workflow logs and the CV_* numbers it returns.

The verdict ("helps", "negative", "no detectable difference") comes from core.science.cv_transfer;
these functions only turn it into sentences and the numbers the algorithm returns.
"""

import numpy as np

from ..science.cv import cv_metrics
from ..science.metrics import UNIT
from ..text import format_number
from .cv_verdict import NAN

CV_COLUMNS = (("Tr-GA-BP", "Tr-GA-BP"), ("GA-BP", "GA-BP (from scratch)"),
              ("Source", "Source model unchanged"), ("mean", "training mean"),
              ("mlr", "linear regression (MLR)"))
OUTPUT_FOR = {"Tr-GA-BP": "OUTPUT_MODEL", "GA-BP": "OUTPUT_BASELINE_MODEL",
              "Source": "SOURCE_MODEL"}
TITLE = {"Tr-GA-BP": "Tr-GA-BP", "GA-BP": "GA-BP from scratch",
         "Source": "the source model unchanged"}


def cv_metrics_by_model(run):
    """{key: cv metrics} of the five models on the out-of-fold predictions (empty without CV);
    TransferRun.cv_table holds it, computed once."""
    if run.cv is None:
        return {}
    y = run.predictions["measured"].to_numpy(dtype=float)
    labels = run.cv["labels"]
    return {key: cv_metrics(y, run.cv["predictions"][key], labels) for key, _ in CV_COLUMNS}


def _rmse_of(run, key):
    """The RMSE the comparison rests on: out-of-fold with CV, else on the validation samples."""
    if run.cv is not None:
        return run.cv_table[key]["RMSE"]
    return run.metrics[key]["validation"]["RMSE"]


def recommended_model(run):
    """(model key, output name) to map with: the verdict's winner, else the lowest RMSE."""
    verdict = run.verdict.get("verdict")
    if verdict == "helps":
        key = "Tr-GA-BP"
    elif verdict == "negative":
        key = "GA-BP"
    else:
        candidates = [k for k in ("Tr-GA-BP", "GA-BP", "Source") if np.isfinite(_rmse_of(run, k))]
        key = min(candidates, key=lambda k: _rmse_of(run, k)) if candidates else "Tr-GA-BP"
    return key, OUTPUT_FOR[key]


def verdict_sentence(run):
    """(text, kind) of the verdict in plain words, with the interval and the paired wins."""
    verdict, n = run.verdict.get("verdict"), run.verdict.get("n", 0)
    where = ("out-of-fold on all " if run.cv is not None else "on the ") + f"{n} target samples"
    if run.verdict.get("difference") is None:
        return (f"No detectable difference between Tr-GA-BP and GA-BP from scratch with {n} "
                "samples: there are too few samples to compare them (use CV = 2, or keep "
                "samples for validation).", "warning")
    diff, low, high = (run.verdict[k] for k in ("difference", "low", "high"))
    numbers = (f"RMSE difference Tr-GA-BP minus GA-BP from scratch {format_number(diff)} {UNIT}, "
               f"{int(100 * run.verdict['level'])} % bootstrap interval {format_number(low)} to "
               f"{format_number(high)}; Tr-GA-BP closer to the measurement at "
               f"{run.verdict['wins']} of {n} samples")
    if verdict == "helps":
        return f"Transfer helps ({where}): {numbers}.", "info"
    if verdict == "negative":
        return (f"Negative transfer ({where}): {numbers}. The source period's relation between "
                "the factors and the content does not carry over to the target here: map with "
                "the from-scratch model (OUTPUT_BASELINE_MODEL), collect more target samples, "
                "and check the factors outside the source ranges.", "warning")
    return (f"No detectable difference with {n} samples ({where}): {numbers}. The interval "
            "includes 0, so neither 'transfer helps' nor 'negative transfer' can be claimed.",
            "info")


def transfer_lead_notes(run):
    """[(text, kind)] for the top of the report: verdict, model to use, baseline warnings."""
    notes = [verdict_sentence(run)]
    key, output = recommended_model(run)
    basis = "cross-validated" if run.cv is not None else "validation"
    notes.append((f"Model to map with: {TITLE[key]} ({output}; {basis} RMSE "
                  f"{format_number(_rmse_of(run, key))} {UNIT})"
                  + ("" if run.verdict.get("verdict") in ("helps", "negative") else
                     ", the lowest of the three, though the difference may be within the "
                     "noise") + ".", "info"))
    if run.cv is not None:
        table = run.cv_table
        if not table[key]["RMSE"] < table["mean"]["RMSE"]:
            notes.append((f"{TITLE[key].capitalize()} does not beat predicting the mean of the "
                          f"retraining samples (cross-validated RMSE "
                          f"{format_number(table[key]['RMSE'])} vs "
                          f"{format_number(table['mean']['RMSE'])} {UNIT}): the factors explain "
                          "little of the target period's content; do not use its map as more "
                          "than the mean.", "warning"))
    return notes


def transfer_cv_summary(run):
    """CV numbers transfergabp returns (Tr-GA-BP's, the baselines'; NaN with CV = 0)."""
    keys = ("CV_RMSE", "CV_MRE", "CV_R2", "MEAN_CV_RMSE", "MLR_CV_RMSE", "BASELINE_CV_RMSE",
            "SOURCE_CV_RMSE")
    if run.cv is None:
        return dict.fromkeys(keys, NAN)
    table = run.cv_table
    tr = table["Tr-GA-BP"]
    return {"CV_RMSE": tr["RMSE"], "CV_MRE": tr["MRE"], "CV_R2": tr["R2"],
            "MEAN_CV_RMSE": table["mean"]["RMSE"], "MLR_CV_RMSE": table["mlr"]["RMSE"],
            "BASELINE_CV_RMSE": table["GA-BP"]["RMSE"], "SOURCE_CV_RMSE": table["Source"]["RMSE"]}

