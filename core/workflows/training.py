"""traingabp's workflow: seeded hold-out, GA-BP on the rest, metrics, cross-validation and
residual kriging on every sample -> TrainingRun.
"""

from dataclasses import dataclass
import numpy as np
import pandas as pd

from ..science.cv import DEFAULT_FOLDS
from ..science.cv_gabp import cross_validate_gabp, fold_labels, samples_record
from .cv_verdict import cv_summary, log_cv_result
from ..science.gabp import GABPSettings, train_gabp
from .kriging_record import kriging_record, kriging_summary, log_kriging_result
from ..model_file import Model
from ..science.metrics import UNIT
from ..monitor import NULL_MONITOR
from ..sampling import SamplesContext
from ..text import format_number
from ..science.splits import SPLIT_STREAM, Split, split_samples
from .common import members_rmse_of, metal_from_field_name, metrics_of_rows, sample_ids_of, warn_hot_spots


@dataclass
class TrainingRun:
    """Everything one traingabp run produced."""

    model: Model
    prepared: object              # core.sampling.PreparedSamples
    split: Split
    settings: GABPSettings
    validation_fraction: float
    samples_context: SamplesContext
    predictions: pd.DataFrame     # one row per valid sample
    metrics: dict                 # {"train": {...}, "validation": {...}}
    mean_predictor: dict          # metrics of predicting the training mean on validation
    member_rmse: pd.DataFrame     # per member: training and validation RMSE

    @property
    def summary(self):
        """The numbers the algorithm returns."""
        validation = self.metrics["validation"]
        return {"RMSE": validation["RMSE"], "MRE": validation["MRE"], "R2": validation["R2"],
                "MAE": validation["MAE"], "N_TRAIN": int(self.split.train.size),
                "N_VALIDATION": int(self.split.validation.size), **cv_summary(self.model.cv),
                **kriging_summary(self.model)}


def run_training(prepared, settings, validation_fraction, monitor=NULL_MONITOR,
                 samples_context=SamplesContext(), cv="spatial", folds=DEFAULT_FOLDS):
    """traingabp on prepared samples: seeded hold-out, GA-BP on the rest, metrics, and
    cross-validation on every sample (cv 'spatial', 'random' or 'none') -> TrainingRun."""
    settings.validate()
    table = prepared.table
    names = [str(name) for name in table.factors.columns]
    x = table.factors.to_numpy(dtype=float)
    y = np.asarray(table.values, dtype=float)
    cv_monitor = monitor.child(100.0 / (folds + 1), 100) if cv != "none" else None
    monitor = monitor.child(0, 100.0 / (folds + 1)) if cv != "none" else monitor
    split = split_samples(len(y), validation_fraction,
                          np.random.default_rng((SPLIT_STREAM, int(settings.seed))))
    if cv != "none":   # bad FOLDS stops the run before any training
        fold_labels(cv, folds, x, np.column_stack([table.x, table.y]), settings.seed)
    warn_hot_spots(prepared, monitor)
    monitor.info(f"{len(y)} valid samples: {split.train.size} for training, "
                 f"{split.validation.size} held out for validation (seed {settings.seed}).")
    label = metal_from_field_name(samples_context.field)
    model = train_gabp(x[split.train], y[split.train], names, settings, monitor=monitor,
                       metal=label)
    mean, std = model.predict(x)
    metrics = {"train": metrics_of_rows(y, mean, split.train),
               "validation": metrics_of_rows(y, mean, split.validation)}
    training_mean = float(np.mean(y[split.train]))
    mean_predictor = metrics_of_rows(y, np.full(y.size, training_mean), split.validation)
    model.training_metrics = metrics
    model.provenance = {
        "field": samples_context.field,
        "validation_fraction": float(validation_fraction),
        "sampling": samples_context.sampling,
        "outliers": prepared.outlier_method,
        "outlier_threshold": samples_context.outlier_threshold,
        "samples": {"train": sample_ids_of(table, split.train),
                    "validation": sample_ids_of(table, split.validation)},
        "samples_dropped": len(table.dropped),
        "samples_removed_as_outliers": [sid for sid, _, _ in prepared.removed_outliers],
    }
    member_rmse = pd.DataFrame({
        "network": np.arange(1, model.ensemble_size + 1),
        "training RMSE": members_rmse_of(model, x[split.train], y[split.train]),
        "validation RMSE": members_rmse_of(model, x[split.validation], y[split.validation])})
    predictions = pd.DataFrame({
        "sample_id": table.ids, "split": split.labels(len(y)), "x": table.x, "y": table.y,
        "measured": y, "predicted": mean, "error": mean - y, "ensemble_std": std,
        "outside_training_range": model.outside_training_range(x)})
    validation = metrics["validation"]
    if split.validation.size:
        monitor.info(f"Validation ({split.validation.size} samples): RMSE "
                     f"{format_number(validation['RMSE'])} {UNIT}, MRE "
                     f"{format_number(validation['MRE'])}, R2 {format_number(validation['R2'])} "
                     f"(predicting the training mean: RMSE "
                     f"{format_number(mean_predictor['RMSE'])} {UNIT}).")
        if validation["RMSE"] >= mean_predictor["RMSE"]:
            monitor.warning("The model does not beat the mean of the training samples on the "
                            "validation samples: the factors explain little of the content, or "
                            "the network overfits. Try ENSEMBLE 5, fewer factors or LOG_TARGET.")
    else:
        monitor.info("VALIDATION_FRACTION is 0: no samples held out, so there are no "
                     "validation metrics (RMSE, MRE and R2 are NaN).")
    model.samples = samples_record(samples_context.crs_wkt, table.ids, table.x, table.y, x, y,
                                   ["validation" if role == "validation" else "train"
                                    for role in split.labels(len(y))])
    if cv != "none":
        model.cv = cross_validate_gabp(x, y, np.column_stack([table.x, table.y]), names,
                                       settings, cv, folds, cv_monitor, label)
        log_cv_result(model.cv, monitor)
        model.cv["kriging"] = kriging_record(model)[0]
        log_kriging_result(model, monitor)
        predictions["cv_fold"] = model.cv["fold"]
        predictions["cv_predicted"] = model.cv["prediction"]
    return TrainingRun(model, prepared, split, settings, float(validation_fraction),
                       samples_context, predictions, metrics, mean_predictor, member_rmse)
