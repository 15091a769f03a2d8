"""transfergabp report pieces: the cross-validated Table 5, the betas and the CV part of the JSON.

The verdict's sentences and the model to map with come from core/workflows/transfer_verdict.py.
"""

import numpy as np
import pandas as pd

from ..text import format_number
from ..workflows.cv_verdict import SCHEME_TEXT
from ..workflows.transfer_verdict import CV_COLUMNS, recommended_model, verdict_sentence
from .cv import cv_frame

NOT_USED = "the source network was not used by this member (beta0 = 0)"


def beta_rows(model):
    """One row per member: beta0 (grid), beta (optimised), and what beta0 = 0 means."""
    rows = []
    for index, (beta0, beta) in enumerate(zip(model.provenance["beta0"],
                                               model.provenance["beta"]), start=1):
        rows.append({"network": index, "beta0 (grid)": float(beta0), "beta (optimised)": float(beta),
                     "note": NOT_USED if beta0 == 0 else ""})
    return pd.DataFrame(rows)


def transfer_cv_section(report, run):
    """Add the cross-validated Table 5 with the verdict's numbers."""
    report.heading("Cross-validated comparison on all target samples")
    if run.cv is None:
        report.paragraph("Not run (CV = 0): the comparison above rests on the validation "
                         "samples only.")
        return
    report.paragraph(
        f"Scheme: {SCHEME_TEXT.get(run.cv['scheme'], run.cv['scheme'])}, "
        f"{int(np.unique(run.cv['labels']).size)} folds over all {len(run.cv['labels'])} valid "
        f"target samples. In every fold, Tr-GA-BP, GA-BP from scratch, the mean and MLR are "
        f"fitted on the same (up to) {run.cv['retrained']} samples (TRAIN_SAMPLES) drawn from "
        "the fold's training part and predict the held-out fold; the source model is applied "
        "unchanged. The verdict compares Tr-GA-BP with GA-BP from scratch sample by sample.")
    table = run.cv_table
    report.table(cv_frame(None, {title: table[key] for key, title in CV_COLUMNS}),
                 float_format=format_number,
                 caption="Cross-validated error (out-of-fold predictions); RMSE fold sd = "
                         "standard deviation of the per-fold RMSE")
    text, kind = verdict_sentence(run)
    report.note(text, kind)


def transfer_cv_figure_data(run):
    """The CV and verdict part of the transfergabp JSON."""
    data = {"verdict": run.verdict, "recommended_model": recommended_model(run)[0],
            "beta_median": float(np.median(run.model.provenance["beta"]))}
    if run.cv is not None:
        data["cv"] = {"scheme": run.cv["scheme"], "fold": [int(v) for v in run.cv["labels"]],
                      "retrained_per_fold": run.cv["retrained"],
                      "metrics": run.cv_table,
                      "prediction": {key: [float(v) for v in pred]
                                     for key, pred in run.cv["predictions"].items()},
                      "fold_rmse": {key: [float(v) for v in values]
                                    for key, values in run.cv["fold_rmse"].items()}}
    return data
