"""evaluatemodel's workflow: a model against prepared samples, leaving out the model's own
samples by location, with the interval coverage -> EvaluationRun; and the words saying what
its metrics describe (independent samples or not, and why).
"""

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import SoilMetalError
from ..independent import match_model_samples
from ..science.intervals import observed_coverage
from ..science.metrics import UNIT, regression_metrics
from ..model_file import SAMPLES_CV_SINCE, Model
from ..monitor import NULL_MONITOR
from ..sampling import SamplesContext
from ..text import format_number

# What evaluatemodel's metrics describe: independent samples or not, and why.
INDEPENDENT = "independent samples"
INCLUDES_TRAINING = "samples that include training samples"
UNKNOWN = "samples whose independence is unknown (the model file does not list its samples)"


def evaluation_label(independence, include_training):
    """The label of evaluatemodel's metrics."""
    if independence is None or not independence.known:
        return UNKNOWN
    if include_training and independence.count:
        return INCLUDES_TRAINING
    return INDEPENDENT


def independence_notes(independence, include_training, total):
    """[(text, kind)] explaining which samples were left out (or why none could be)."""
    if independence is None:
        return []
    if not independence.known:
        return [(f"This model file was written before soilmetal {SAMPLES_CV_SINCE} (format "
                 "version 1) and does not list the samples it was trained and validated on, so "
                 f"evaluatemodel cannot tell which of these {total} samples are independent: "
                 "none was left out, and the metrics may include training samples. Retrain the "
                 "model with 'Train GA-BP model' to get independent evaluation.", "warning")]
    count = independence.count
    train = sum(1 for role in independence.role if role == "train")
    validation = count - train
    if count == 0:
        return [(f"None of the {total} samples lies at a sample the model was trained or "
                 "validated on: the metrics describe independent samples.", "info")]
    detail = (f"{count} of the {total} samples lie at samples the model was given ({train} "
              f"training, {validation} validation; by location, within "
              f"{independence.tolerance:.3g} units of its CRS)")
    if include_training:
        return [(f"{detail}. INCLUDE_TRAINING is set, so they are kept: the metrics include "
                 "training samples and overstate the accuracy at new places.", "warning")]
    return [(f"{detail}; they were left out (N_EXCLUDED = {count}), so the metrics describe "
             f"the {total - count} independent samples. Set INCLUDE_TRAINING to keep them.",
             "info")]


@dataclass
class EvaluationRun:
    """Everything one evaluatemodel run produced."""

    model: Model
    model_name: str
    prepared: object
    samples_context: SamplesContext
    predictions: pd.DataFrame
    metrics: dict
    independence: object = None    # core.independent.Independence
    include_training: bool = False
    model_path: str = ""           # the evaluated file: the figure JSON must never replace it
    coverage: dict = field(default_factory=dict)   # core.intervals.observed_coverage, or {}

    @property
    def used(self):
        """Boolean (n,): the samples the metrics are computed on."""
        return self.predictions["evaluated"].to_numpy(dtype=bool)

    @property
    def label(self):
        """What the metrics describe: independent samples, or not."""
        return evaluation_label(self.independence, self.include_training)

    @property
    def summary(self):
        """The numbers the algorithm returns."""
        values = {key: self.metrics[key] for key in ("RMSE", "MRE", "MAE", "R2", "N")}
        values["N_EXCLUDED"] = int((~self.used).sum())
        values["COVERAGE"] = self.coverage.get("coverage", float("nan"))
        return values


def run_evaluation(model, prepared, model_path="", monitor=NULL_MONITOR,
                   samples_context=SamplesContext(), include_training=False,
                   interval_coverage=0.9):
    """A model against prepared samples -> EvaluationRun. Samples at the model's own training
    or validation samples (model.samples, by location) are left out unless include_training."""
    table = prepared.table
    x = table.factors[model.factor_names].to_numpy(dtype=float)
    y = np.asarray(table.values, dtype=float)
    independence = match_model_samples(model, table.x, table.y, samples_context.crs_wkt)
    used = np.ones(y.size, dtype=bool) if include_training else ~independence.at_model_sample
    for text, kind in independence_notes(independence, include_training, y.size):
        monitor.note(text, kind)
    if not used.any():
        raise SoilMetalError(
            f"All {y.size} evaluation samples lie at samples the model was trained or validated "
            "on, so none is independent. Give samples of another survey or area, or set "
            "INCLUDE_TRAINING to evaluate on them anyway (labelled 'includes training "
            "samples').")
    mean, std = model.predict(x)
    outside = model.outside_training_range(x)
    metrics = regression_metrics(y[used], mean[used])
    predictions = pd.DataFrame({"sample_id": table.ids, "x": table.x, "y": table.y,
                                "measured": y, "predicted": mean, "error": mean - y,
                                "ensemble_std": std, "outside_training_range": outside,
                                "model_sample_role": independence.role, "evaluated": used})
    coverage = {}
    if model.cv is not None:
        coverage = observed_coverage(model, x[used], y[used], interval_coverage)
        monitor.info(f"{coverage['inside']} of {coverage['n']} samples lie inside the model's "
                     f"{100 * coverage['nominal']:g} % prediction interval (observed coverage "
                     f"{format_number(100 * coverage['coverage'])} %).")
    run = EvaluationRun(model, os.path.basename(str(model_path)) if model_path else "",
                        prepared, samples_context, predictions, metrics, independence,
                        bool(include_training), str(model_path) if model_path else "", coverage)
    monitor.info(f"{metrics['N']} {run.label}: RMSE {format_number(metrics['RMSE'])} {UNIT}, "
                 f"MRE {format_number(metrics['MRE'])}, MAE {format_number(metrics['MAE'])}, "
                 f"R2 {format_number(metrics['R2'])}.")
    if outside[used].any():
        monitor.warning(f"{int(outside[used].sum())} of {int(used.sum())} samples have factor "
                        "values outside the model's training ranges (extrapolation).")
    monitor.set_progress(100)
    return run
