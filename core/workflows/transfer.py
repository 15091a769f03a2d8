"""transfergabp's workflow: seeded retraining and validation samples, Tr-GA-BP, GA-BP from
scratch and the source unchanged on the same samples, then (CV) the same comparison
cross-validated on every target sample and the verdict -> TransferRun.
"""

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional

import numpy as np
import pandas as pd

from ..science.cv import DEFAULT_FOLDS
from ..science.cv_gabp import cv_record, fold_labels, samples_record
from ..science.cv_transfer import cross_validate_transfer, fit_transfer, transfer_verdict
from .transfer_verdict import cv_metrics_by_model, recommended_model, transfer_cv_summary, transfer_lead_notes
from ..science.gabp import GABPSettings, train_gabp
from .kriging_record import kriging_record, kriging_summary, transfer_kriging_record
from ..model_file import Model
from ..science.metrics import UNIT
from ..monitor import NULL_MONITOR
from ..sampling import SamplesContext
from ..text import format_number
from ..science.splits import SPLIT_STREAM, Split, split_transfer_samples
from ..science.transfer import TransferSettings, outside_source_ranges, source_gabp_settings
from .common import ELEMENT_SYMBOLS, metal_from_field_name, metrics_of_rows, sample_ids_of, warn_hot_spots


@dataclass
class TransferRun:
    """Everything one transfergabp run produced."""

    source: Model
    source_name: str
    source_sha256: str
    model: Model                   # Tr-GA-BP
    baseline: Model                # GA-BP from scratch on the same target samples
    prepared: object
    split: Split
    settings: TransferSettings
    baseline_settings: GABPSettings
    ensemble_mode: str
    samples_context: SamplesContext
    predictions: pd.DataFrame
    metrics: dict                  # {model name: {"train": {...}, "validation": {...}}}
    outside: dict                  # outside_source_ranges on every target sample
    notes: list                    # (text, kind) for the report
    cv: Optional[dict] = None      # cross_validate_transfer result (None with CV = 0)
    verdict: dict = field(default_factory=dict)   # transfer_verdict result

    @property
    def negative_transfer(self):
        """True when the verdict (bootstrap interval above 0) is negative transfer."""
        return self.verdict.get("verdict") == "negative"

    @cached_property
    def cv_table(self):
        """{key: cv metrics} of the five models out of fold (empty without CV): the recommendation,
        the log, the summary and the report all read it, so it is computed once."""
        return cv_metrics_by_model(self)

    @property
    def recommended(self):
        """(model key, output name) of the model the report names for mapping."""
        return recommended_model(self)

    @property
    def summary(self):
        """The numbers the algorithm returns."""
        tr = self.metrics["Tr-GA-BP"]["validation"]
        base = self.metrics["GA-BP"]["validation"]
        source = self.metrics["Source"]["validation"]
        return {"RMSE": tr["RMSE"], "MRE": tr["MRE"], "MAE": tr["MAE"], "R2": tr["R2"],
                "BETA": float(np.median(self.model.provenance["beta"])),
                "VERDICT": self.verdict.get("verdict", "no detectable difference"),
                **transfer_cv_summary(self), **kriging_summary(self.model),
                "BASELINE_RMSE": base["RMSE"], "BASELINE_MRE": base["MRE"],
                "SOURCE_RMSE": source["RMSE"], "SOURCE_MRE": source["MRE"],
                "N_TRAIN": int(self.split.train.size),
                "N_VALIDATION": int(self.split.validation.size)}


MODEL_COLUMNS = (("GA-BP", "GA-BP (from scratch)"), ("Tr-GA-BP", "Tr-GA-BP"),
                 ("Source", "Source model unchanged"))


def run_transfer(source, source_path, prepared, settings, train_samples=16,
                 validation_fraction=0.2, ensemble=1, monitor=NULL_MONITOR,
                 samples_context=SamplesContext(), source_sha256=None, cv="spatial",
                 folds=DEFAULT_FOLDS):
    """transfergabp on prepared target samples: seeded pick of the retraining and validation
    samples, Tr-GA-BP, GA-BP from scratch and the source unchanged on the same samples; then
    (cv 'spatial' or 'random') the same comparison cross-validated on every target sample,
    and the verdict (core.cv_transfer)."""
    settings.validate()
    table = prepared.table
    names = list(source.factor_names)
    x = table.factors[names].to_numpy(dtype=float)
    y = np.asarray(table.values, dtype=float)
    dropped = len(table.dropped) + len(prepared.removed_outliers)
    dropped_text = (f" ({len(table.dropped)} of the points dropped for a missing value, position "
                    f"or nodata, {len(prepared.removed_outliers)} removed as outliers)"
                    if dropped else "")
    split = split_transfer_samples(len(y), int(train_samples), validation_fraction,
                                   np.random.default_rng((SPLIT_STREAM, int(settings.seed))),
                                   dropped_text)
    coordinates = np.column_stack([table.x, table.y])
    if cv != "none":   # bad FOLDS stops the run before any training
        fold_labels(cv, folds, x, coordinates, settings.seed)
    cv_monitor = monitor.child(40, 100) if cv != "none" else None
    monitor = monitor.child(0, 40) if cv != "none" else monitor
    warn_hot_spots(prepared, monitor)
    monitor.info(f"{len(y)} valid target samples: {split.train.size} for retraining, "
                 f"{split.validation.size} for validation, {split.unused.size} not used "
                 f"(seed {settings.seed}).")
    notes = []
    field_name = samples_context.field
    label = metal_from_field_name(field_name)
    source_label = metal_from_field_name(source.metal)
    if label in ELEMENT_SYMBOLS and source_label in ELEMENT_SYMBOLS and label != source_label:
        text = (f"The source model predicts {source.metal}, but the target field '{field_name}' "
                f"looks like {label}. Check that FIELD holds the same metal as the source model.")
        monitor.warning(text)
        notes.append((text, "warning"))
    metal = source.metal or label

    x_train, y_train = x[split.train], y[split.train]
    ensemble = int(ensemble)
    if source.ensemble_size > 1 and ensemble not in (1, source.ensemble_size):
        monitor.info(f"The source model has {source.ensemble_size} networks; each is "
                     f"transferred, so ENSEMBLE {ensemble} is not used.")
    model, ensemble_mode = fit_transfer(source, x_train, y_train, settings, ensemble,
                                        monitor.child(0, 50), metal)

    baseline_settings = source_gabp_settings(source, model.ensemble_size, settings.seed, monitor)
    monitor.info(f"GA-BP from scratch on the same {split.train.size} samples "
                 f"({baseline_settings.ensemble} network(s)).")
    baseline = train_gabp(x_train, y_train, names, baseline_settings,
                          monitor=monitor.child(50, 95), metal=metal)

    predictions = {"Tr-GA-BP": model.predict(x), "GA-BP": baseline.predict(x),
                   "Source": source.predict(x)}
    metrics = {name: {"train": metrics_of_rows(y, pred[0], split.train),
                      "validation": metrics_of_rows(y, pred[0], split.validation)}
               for name, pred in predictions.items()}
    target = np.log(y) if source.log_target and np.all(y > 0) else y
    outside = outside_source_ranges(source, x, target)

    source_name = os.path.basename(str(source_path)) if source_path else ""
    samples = {"train": sample_ids_of(table, split.train), "validation": sample_ids_of(table, split.validation),
               "unused": sample_ids_of(table, split.unused)}
    model.provenance.update({
        "source_sha256": source_sha256, "source_file": source_name, "field": field_name,
        "ensemble_mode": ensemble_mode, "samples": samples,
        "sample_ids_used": samples["train"], "validation_fraction": float(validation_fraction),
        "sampling": samples_context.sampling, "outliers": prepared.outlier_method,
        "outside_source_range_ids": {
            "samples": sample_ids_of(table, outside["samples"]),
            "target_samples": sample_ids_of(table, outside["target_samples"])}})
    model.training_metrics = metrics["Tr-GA-BP"]
    baseline.training_metrics = metrics["GA-BP"]
    baseline.provenance = {
        "role": "GA-BP from scratch on the retraining samples of a Tr-GA-BP run (baseline)",
        "field": field_name, "source_file": source_name, "source_sha256": source_sha256,
        "samples": samples, "validation_fraction": float(validation_fraction),
        "sampling": samples_context.sampling, "outliers": prepared.outlier_method}

    frame = pd.DataFrame({"sample_id": table.ids, "split": split.labels(len(y)),
                          "x": table.x, "y": table.y, "measured": y})
    for name, _ in MODEL_COLUMNS:
        frame[f"predicted_{name}"] = predictions[name][0]
    frame["ensemble_std_Tr-GA-BP"] = predictions["Tr-GA-BP"][1]
    frame["outside_source_range"] = np.isin(np.arange(len(y)), outside["samples"])

    roles = ["train" if role == "train" else "validation" for role in split.labels(len(y))]
    for fitted in (model, baseline):
        fitted.samples = samples_record(samples_context.crs_wkt, table.ids, table.x, table.y, x, y, roles)
    cv_result = None
    if cv != "none":
        cv_result = cross_validate_transfer(source, x, y, coordinates, settings,
                                            baseline_settings, int(train_samples), ensemble,
                                            cv, folds, cv_monitor, metal)
        oof = cv_result["predictions"]
        baselines = {"mean": oof["mean"], "mlr": oof["mlr"]}
        model.cv = cv_record(cv_result["scheme"], cv_result["labels"], y, oof["Tr-GA-BP"],
                             baselines, source.log_target)
        baseline.cv = cv_record(cv_result["scheme"], cv_result["labels"], y, oof["GA-BP"],
                                baselines, source.log_target)
        model.cv["kriging"] = transfer_kriging_record(model, source)[0]
        baseline.cv["kriging"] = kriging_record(baseline)[0]
        for name in ("Tr-GA-BP", "GA-BP", "Source"):
            frame[f"cv_predicted_{name}"] = oof[name]
        frame["cv_fold"] = cv_result["labels"]
        verdict = transfer_verdict(y, oof["Tr-GA-BP"], oof["GA-BP"], settings.seed)
    else:
        rows = split.validation
        verdict = transfer_verdict(y[rows], predictions["Tr-GA-BP"][0][rows],
                                   predictions["GA-BP"][0][rows], settings.seed)
    run = TransferRun(source, source_name, source_sha256, model, baseline, prepared, split,
                      settings, baseline_settings, ensemble_mode, samples_context, frame,
                      metrics, outside, notes, cv_result, verdict)
    _log_transfer_result(run, monitor)
    monitor.set_progress(100)
    return run


def _log_transfer_result(run, monitor):
    """Log the Table 5 numbers and the verdict (a warning for negative transfer)."""
    if run.split.validation.size == 0:
        monitor.info("VALIDATION_FRACTION is 0: no validation samples for the hold-out table.")
    else:
        parts = [f"{title}: RMSE {format_number(run.metrics[key]['validation']['RMSE'])} "
                 f"{UNIT}, MRE {format_number(run.metrics[key]['validation']['MRE'])}"
                 for key, title in MODEL_COLUMNS]
        monitor.info(f"Validation ({run.split.validation.size} samples): " + "; ".join(parts)
                     + ".")
    for text, kind in transfer_lead_notes(run):
        monitor.note(text, kind)
