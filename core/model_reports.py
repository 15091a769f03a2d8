"""The modelling workflows behind traingabp, transfergabp and evaluatemodel, and their reports.

Each workflow takes samples already prepared by core.sampling.prepare_samples, splits them
(seeded), fits or applies the models, and returns a run object holding everything the
outputs need: the model(s), per-sample predictions, metrics and the data of every figure.
The writers then turn a run into the model file, an HTML report (figures embedded), a CSV of
per-sample results and a JSON of the figures' data for scripts. Nothing is written until the
whole run succeeded, so a failed or cancelled run leaves no model file behind.
"""

import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import numpy as np
import pandas as pd

from .cv import DEFAULT_FOLDS
from .cv_gabp import cross_validate_gabp, cv_record, fold_labels, samples_record
from .cv_transfer import cross_validate_transfer, fit_transfer, transfer_verdict
from .cv_transfer_report import (recommended_model, transfer_cv_summary, transfer_lead_notes,
                                 transfer_cv_section, transfer_cv_figure_data, beta_rows)
from .cv_report import cv_figure_data, cv_lead_note, cv_section, cv_summary, log_cv_result
from .kriging_report import (kriging_record, kriging_section, kriging_summary, log_kriging_result,
                             transfer_kriging_record)
from .errors import SoilMetalError
from .evaluation_text import evaluation_label, independence_notes
from .independent import match_model_samples
from .intervals import observed_coverage
from .gabp import MIN_TRAINING_SAMPLES, GABPSettings, train_gabp
from .metrics import regression_metrics
from .outliers import hot_spot_warning
from .outputs import final_path
from .model_file import Model, model_to_bytes, save_model
from .monitor import NULL_MONITOR
from .report import (HtmlReport, _new_figure, bar_figure, curves, format_number,
                     predicted_vs_measured, write_json, write_table_csv, write_text_atomic)
from .sampling import SAMPLING_LABELS, SAMPLING_METHODS, catalogue_factors
from .transfer import TransferSettings, outside_source_ranges

UNIT = "mg/kg"
MIN_VALIDATION_SAMPLES = 2
# Independent random streams derived from the one user seed: the split must not change
# when the GA settings change, and the training stream is exactly default_rng(seed), so
# train_gabp on the recorded training samples with the recorded settings rebuilds the model.
SPLIT_STREAM = 7001
TRAIN_DISPLAY_NAME = "Train GA-BP model"
TRANSFER_DISPLAY_NAME = "Transfer GA-BP model (Tr-GA-BP)"

# Metals and metalloids measured in soil surveys, for a readable label from a field name.
ELEMENT_SYMBOLS = ("Ag", "Al", "As", "Au", "Ba", "Be", "Bi", "Cd", "Co", "Cr", "Cs", "Cu",
                   "Fe", "Hg", "Li", "Mn", "Mo", "Ni", "Pb", "Pt", "Sb", "Se", "Sn", "Sr",
                   "Th", "Ti", "Tl", "U", "V", "W", "Zn", "Zr")
ELEMENT_NAMES = {"silver": "Ag", "aluminium": "Al", "aluminum": "Al", "arsenic": "As",
                 "gold": "Au", "barium": "Ba", "cadmium": "Cd", "cobalt": "Co",
                 "chromium": "Cr", "copper": "Cu", "iron": "Fe", "mercury": "Hg",
                 "manganese": "Mn", "molybdenum": "Mo", "nickel": "Ni", "lead": "Pb",
                 "antimony": "Sb", "selenium": "Se", "tin": "Sn", "thallium": "Tl",
                 "vanadium": "V", "zinc": "Zn"}
SPLIT_LABELS = {"train": "training", "validation": "validation", "unused": "not used"}


# ---------------------------------------------------------------- small helpers

def metal_label(field_name):
    """A readable metal name from a field name: 'cu_mg_kg' -> 'Cu', 'lead' -> 'Pb', else the field."""
    text = str(field_name or "").strip()
    token = re.split(r"[_\s.\-(]", text, maxsplit=1)[0].lower()
    symbols = {symbol.lower(): symbol for symbol in ELEMENT_SYMBOLS}
    if token in symbols:
        return symbols[token]
    if token in ELEMENT_NAMES:
        return ELEMENT_NAMES[token]
    return text


def check_model_factors(model, sources, model_name="The model"):
    """SoilMetalError naming the factors model needs that none of the rasters sources has."""
    catalogue = catalogue_factors(sources)
    missing = [name for name in model.factor_names if name not in catalogue]
    if missing:
        raise SoilMetalError(
            f"{model_name} needs factor(s) {', '.join(missing)}, which the factor rasters do not "
            f"have. Available factors: {', '.join(catalogue) or 'none'}. Give the rasters of "
            f"this period that hold the factors the model was trained on "
            f"({', '.join(model.factor_names)}), with the same band names (e.g. the outputs of "
            "'Spectral indices' and 'Terrain factors').")


def figures_json_path(report_path, taken=()):
    """Where a report's figure data go: the report's stem + .json, unless that path is taken.

    Paths are compared as they will be once the run's outputs are in place (a staged report's
    JSON becomes <final stem>.json), so the JSON never replaces an input or output model file.
    """
    stem = os.path.splitext(str(report_path))[0]
    path = stem + ".json"
    final_json = os.path.splitext(str(final_path(report_path)))[0] + ".json"
    taken = {os.path.abspath(str(p)) for p in taken if p} | \
        {os.path.abspath(str(final_path(p))) for p in taken if p}
    if os.path.abspath(path) in taken or os.path.abspath(final_json) in taken:
        path = stem + ".figures.json"
    return path


def scaled_rmse(values, model):
    """Training-curve MSE values on the scaled target -> RMSE in target units (mg/kg or log)."""
    values = np.asarray(values, dtype=float)
    return np.sqrt(np.clip(values, 0.0, None)) * 0.5 * (model.y_max - model.y_min)


def target_unit(model):
    """Unit of scaled_rmse values: mg/kg, or log units for a log-target model."""
    return "log(mg/kg)" if model.log_target else UNIT


def _sampling_label(sampling):
    """Readable sampling method."""
    return SAMPLING_LABELS[SAMPLING_METHODS.index(sampling)] if sampling in SAMPLING_METHODS \
        else str(sampling)


def _outlier_text(prepared, threshold):
    """Readable outlier rule that was applied."""
    method = prepared.outlier_method
    if method == "none":
        return "none"
    return f"{method} (threshold {format_number(threshold) if threshold is not None else 'default'})"


def _ids(table, rows):
    """Sample ids of the given row indices."""
    return [table.ids[int(i)] for i in rows]


@dataclass
class Split:
    """Row indices (sorted) of the samples used for training, validation and neither."""

    train: np.ndarray
    validation: np.ndarray
    unused: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def labels(self, n):
        """Split name of every sample (n,): 'train', 'validation' or 'unused'."""
        labels = np.array(["unused"] * n, dtype=object)
        labels[self.train] = "train"
        labels[self.validation] = "validation"
        return labels


def _rounded_count(fraction, count):
    """round(fraction * count), halves up (Python's round would go to even)."""
    return int(math.floor(fraction * count + 0.5))


def split_samples(n, validation_fraction, rng):
    """Seeded hold-out of n samples: validation_fraction of them (at least 1 when > 0) -> Split."""
    if not 0.0 <= validation_fraction < 1.0:
        raise SoilMetalError(f"VALIDATION_FRACTION must be at least 0 and below 1, got "
                             f"{validation_fraction:g}. Use 0.2 to hold out 20 % of the samples.")
    n_validation = 0 if validation_fraction == 0 else max(1, _rounded_count(validation_fraction, n))
    n_train = n - n_validation
    if n_train < MIN_TRAINING_SAMPLES:
        raise SoilMetalError(
            f"Only {n} valid samples: holding out {n_validation} for validation leaves {n_train} "
            f"for training, and at least {MIN_TRAINING_SAMPLES} are needed. Lower "
            "VALIDATION_FRACTION (0 = no hold-out) or add sample points.")
    order = rng.permutation(n)
    return Split(train=np.sort(order[n_validation:]), validation=np.sort(order[:n_validation]))


def split_transfer_samples(n, train_samples, validation_fraction, rng, dropped_text=""):
    """Seeded pick of train_samples of n target samples for retraining, then
    validation_fraction of the rest (at least MIN_VALIDATION_SAMPLES when > 0) -> Split."""
    if train_samples < MIN_TRAINING_SAMPLES:
        raise SoilMetalError(f"TRAIN_SAMPLES is {train_samples}; at least "
                             f"{MIN_TRAINING_SAMPLES} target samples are needed for retraining.")
    if not 0.0 <= validation_fraction <= 1.0:
        raise SoilMetalError(f"VALIDATION_FRACTION must be between 0 and 1, got "
                             f"{validation_fraction:g}.")
    needed_validation = MIN_VALIDATION_SAMPLES if validation_fraction > 0 else 0
    if n < train_samples + needed_validation:
        most = n - needed_validation
        advice = (f"set TRAIN_SAMPLES to at most {most}" if most >= MIN_TRAINING_SAMPLES
                  else "add target sample points")
        raise SoilMetalError(
            f"Only {n} valid target samples{dropped_text}, but TRAIN_SAMPLES = {train_samples} "
            f"needs at least {train_samples + needed_validation} ({train_samples} for retraining"
            + (f" plus at least {needed_validation} for validation" if needed_validation else "")
            + f"). Either {advice}, add target samples"
            + (", or set VALIDATION_FRACTION = 0 (no validation)." if needed_validation else "."))
    rest = n - train_samples
    n_validation = 0
    if validation_fraction > 0:
        n_validation = min(rest, max(MIN_VALIDATION_SAMPLES,
                                     _rounded_count(validation_fraction, rest)))
    order = rng.permutation(n)
    return Split(train=np.sort(order[:train_samples]),
                 validation=np.sort(order[train_samples:train_samples + n_validation]),
                 unused=np.sort(order[train_samples + n_validation:]))


def _metrics(y, pred, rows):
    """regression_metrics of the given rows (empty rows -> NaN metrics, N 0)."""
    return regression_metrics(y[rows], pred[rows])


def _member_rmse(model, x, y):
    """Each member's RMSE (K,) on x (n, L), y (n,); NaN when there are no samples."""
    if y.size == 0:
        return np.full(model.ensemble_size, np.nan)
    members = model.predict_members(x)
    return np.sqrt(np.mean((members - y[None, :]) ** 2, axis=1))


def samples_section(report, prepared, n_points, used_rows,
                    caption="Samples that did not reach the model, with the reason"):
    """Add the data summary of prepared samples: points, dropped, removed, used, and the reasons."""
    table = prepared.table
    rows = {"Points in the layer": n_points if n_points is not None else "\u2014",
            "Dropped (no measured value, outside the rasters or on nodata)": len(table.dropped),
            "Removed as outliers": len(prepared.removed_outliers),
            "Valid samples": len(table)}
    rows.update(used_rows)
    report.key_values(rows)
    if prepared.outlier_note:
        report.note(prepared.outlier_note)
    hot_spots = hot_spot_warning(prepared.removed_outliers, prepared.table.values)
    if hot_spots:
        report.note(hot_spots, "warning")
    summary = prepared.summary_rows()
    if summary:
        report.table(pd.DataFrame(summary, columns=["sample_id", "value", "status", "reason"]),
                     caption=caption)


def _warn_hot_spots(prepared, monitor):
    """Log the warning when the outlier rule removed the highest measured values."""
    text = hot_spot_warning(prepared.removed_outliers, prepared.table.values)
    if text:
        monitor.warning(text)


def _metrics_frame(columns):
    """Metrics table: rows RMSE, MRE, MRE %, MAE, R2, N; one column per {name: metrics}."""
    names = [f"RMSE ({UNIT})", "MRE (fraction)", "MRE (%)", f"MAE ({UNIT})", "R\u00b2",
             "N (samples)"]
    frame = {"": names}
    for name, metrics in columns.items():
        mre = metrics["MRE"]
        frame[name] = [metrics["RMSE"], mre, 100.0 * mre if mre is not None else None,
                       metrics["MAE"], metrics["R2"], int(metrics["N"])]
    return pd.DataFrame(frame)


def _float_cells(value):
    """Table number format: 4 significant digits."""
    return format_number(value)


# ---------------------------------------------------------------- figures

def ga_figure(model):
    """GA best and population-mean training RMSE per generation, per member."""
    series = {}
    for index, curve in enumerate(model.curves, start=1):
        suffix = f" (network {index})" if model.ensemble_size > 1 else ""
        series[f"best{suffix}"] = scaled_rmse(curve.get("ga_best_mse", []), model)
        if model.ensemble_size <= 3:
            series[f"population mean{suffix}"] = scaled_rmse(curve.get("ga_mean_mse", []), model)
    if model.ensemble_size > 3:
        means = [curve.get("ga_mean_mse", []) for curve in model.curves]
        length = min(len(m) for m in means)
        series["population mean (average over networks)"] = scaled_rmse(
            np.mean([m[:length] for m in means], axis=0), model)
    return curves(series, "generation (0 = random initial population)",
                  f"training RMSE ({target_unit(model)})", logy=True,
                  title="Genetic algorithm: fitness per generation")


def lm_figure(model):
    """Levenberg-Marquardt training RMSE per epoch for every member, with the goal line."""
    series, goal = {}, None
    for index, curve in enumerate(model.curves, start=1):
        series[f"network {index}"] = scaled_rmse(curve.get("lm_mse", []), model)
        goal = curve.get("lm_goal_mse", goal)
    if goal is not None and goal > 0:
        length = max(len(values) for values in series.values())
        series["goal (LM stops here)"] = np.full(length, float(scaled_rmse(goal, model)))
    return curves(series, "epoch (0 = network from the GA)",
                  f"training RMSE ({target_unit(model)})", logy=True,
                  title="Levenberg-Marquardt: error per epoch")


def beta_grid_figure(grid, grid_mse, beta0s, betas, model):
    """Training RMSE of beta * W_S for every grid beta, per member, with beta0 and the final beta."""
    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    for index, errors in enumerate(grid_mse):
        rmse = scaled_rmse(errors, model)
        label = f"network {index + 1}" if len(grid_mse) > 1 else "beta * W_S"
        line = ax.plot(grid, rmse, marker="o", markersize=3, label=label)[0]
        chosen = int(np.argmin(errors))
        ax.plot([grid[chosen]], [rmse[chosen]], marker="*", markersize=12,
                color=line.get_color(), linestyle="none")
    median_beta = float(np.median(betas))
    ax.axvline(median_beta, color="0.3", linestyle="--", linewidth=1,
               label=f"final beta (median {median_beta:.3f})")
    ax.set_xlabel("beta (W_T = beta * W_S)")
    ax.set_ylabel(f"RMSE on the target training samples ({target_unit(model)})")
    ax.set_title(f"Grid search for beta0 (star = chosen, mean beta0 {np.mean(beta0s):.2f})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def transfer_curve_figure(model):
    """Tr-GA-BP training RMSE and beta per epoch of step 2, per member (two panels)."""
    fig = _new_figure(6.0, 5.5)
    top = fig.add_subplot(2, 1, 1)
    bottom = fig.add_subplot(2, 1, 2, sharex=top)
    for index, curve in enumerate(model.curves, start=1):
        label = f"network {index}" if model.ensemble_size > 1 else "Tr-GA-BP"
        rmse = scaled_rmse(curve.get("train_mse", []), model)
        top.plot(np.arange(rmse.size), rmse, label=label)
        beta = np.asarray(curve.get("beta", []), dtype=float)
        bottom.plot(np.arange(beta.size), beta, label=label)
    top.set_yscale("log")
    top.set_ylabel(f"training RMSE ({target_unit(model)})")
    top.set_title("Retraining on the target samples (epoch 0 = beta0 * W_S)")
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("beta")
    bottom.set_xlabel("epoch")
    bottom.grid(True, alpha=0.3)
    if model.ensemble_size > 1:
        top.legend(fontsize="small")
    return fig


# ---------------------------------------------------------------- traingabp

@dataclass
class TrainingRun:
    """Everything one traingabp run produced."""

    model: Model
    prepared: object              # core.sampling.PreparedSamples
    split: Split
    settings: GABPSettings
    validation_fraction: float
    field: str
    n_points: Optional[int]
    sampling: str
    outlier_threshold: Optional[float]
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


def run_training(prepared, settings, validation_fraction, monitor=NULL_MONITOR, field="",
                 n_points=None, sampling="nearest", outlier_threshold=None, cv="spatial",
                 folds=DEFAULT_FOLDS, crs_wkt=""):
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
    _warn_hot_spots(prepared, monitor)
    monitor.info(f"{len(y)} valid samples: {split.train.size} for training, "
                 f"{split.validation.size} held out for validation (seed {settings.seed}).")
    label = metal_label(field)
    model = train_gabp(x[split.train], y[split.train], names, settings, monitor=monitor,
                       metal=label)
    mean, std = model.predict(x)
    metrics = {"train": _metrics(y, mean, split.train),
               "validation": _metrics(y, mean, split.validation)}
    training_mean = float(np.mean(y[split.train]))
    mean_predictor = _metrics(y, np.full(y.size, training_mean), split.validation)
    model.training_metrics = metrics
    model.provenance = {
        "field": field,
        "validation_fraction": float(validation_fraction),
        "sampling": sampling,
        "outliers": prepared.outlier_method,
        "outlier_threshold": outlier_threshold,
        "samples": {"train": _ids(table, split.train),
                    "validation": _ids(table, split.validation)},
        "samples_dropped": len(table.dropped),
        "samples_removed_as_outliers": [sid for sid, _, _ in prepared.removed_outliers],
    }
    member_rmse = pd.DataFrame({
        "network": np.arange(1, model.ensemble_size + 1),
        "training RMSE": _member_rmse(model, x[split.train], y[split.train]),
        "validation RMSE": _member_rmse(model, x[split.validation], y[split.validation])})
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
    model.samples = samples_record(crs_wkt, table.ids, table.x, table.y, x, y,
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
    return TrainingRun(model, prepared, split, settings, float(validation_fraction), field,
                       n_points, sampling, outlier_threshold, predictions, metrics,
                       mean_predictor, member_rmse)


def ensemble_verdict(member_rmse, ensemble_rmse, which="validation"):
    """One sentence on what averaging did, read from the numbers, not assumed."""
    median = float(np.median(member_rmse))
    if ensemble_rmse < float(np.min(member_rmse)):
        return ("The ensemble beats every single network: averaging cancels part of each "
                "network's own error.")
    if ensemble_rmse < median:
        return ("The ensemble beats the median network: a single network would have been a draw "
                "from that range, and averaging removes that luck of the draw.")
    return (f"Here averaging did not lower the {which} error below the median network's: the "
            f"networks share their error (the factors explain little at these samples), so the "
            f"ensemble mainly steadies the result and gives the uncertainty (the members' spread).")


def _ensemble_section(report, run):
    """Add the spread of the members' validation RMSE and what the ensemble makes of it."""
    model, members = run.model, run.member_rmse
    has_validation = run.split.validation.size > 0
    column = "validation RMSE" if has_validation else "training RMSE"
    which = "validation" if has_validation else "training"
    ensemble_rmse = run.metrics["validation" if has_validation else "train"]["RMSE"]
    report.heading("Ensemble: how much one network varies")
    if model.ensemble_size == 1:
        report.paragraph(
            "This model is a single network. A 3-layer network with tens of weights fitted to a "
            "few dozen samples depends strongly on its random start: another SEED can give a "
            "clearly different validation RMSE. ENSEMBLE 5 trains five networks from different "
            "seeds and averages them, which steadies the result and gives an uncertainty "
            "(the members' spread).")
        return
    values = members[column].to_numpy(dtype=float)
    report.paragraph(
        f"The {model.ensemble_size} networks, each from its own GA and LM run, reach a {which} "
        f"RMSE between {format_number(np.min(values))} and {format_number(np.max(values))} "
        f"{UNIT} (median {format_number(np.median(values))}); their mean, the model, reaches "
        f"{format_number(ensemble_rmse)} {UNIT}. " + ensemble_verdict(values, ensemble_rmse, which))
    labels = [f"net {k}" for k in members["network"]] + ["ensemble"]
    report.figure(bar_figure(labels, list(values) + [ensemble_rmse], ylabel=f"{which} RMSE "
                             f"({UNIT})", title=f"{which.capitalize()} RMSE per network and of "
                             "the ensemble"),
                  caption=f"{which.capitalize()} RMSE of each network on its own and of the "
                          "ensemble mean")
    report.table(members, float_format=_float_cells,
                 caption=f"RMSE ({UNIT}) of each network on its own")


def build_training_report(run):
    """The traingabp HTML report of a TrainingRun -> HtmlReport."""
    model, settings, split = run.model, run.settings, run.split
    title_metal = model.metal or run.field
    report = HtmlReport(f"GA-BP model for {title_metal}")
    report.paragraph(
        "GA-BP (Yang et al. 2023, section 3.2.1): a genetic algorithm seeds all weights and "
        "thresholds of a 3-layer BP network, then Levenberg-Marquardt trains it on the training "
        "samples. The held-out validation samples measure how well the model predicts samples "
        "it has not seen.")
    cv_lead_note(report, model.cv, model.log_target)
    report.heading("Settings")
    report.key_values({
        "Measured field": run.field,
        "Metal": model.metal,
        "Factors": f"{model.n_inputs}: {', '.join(model.factor_names)}",
        "Network": f"{model.n_inputs}-{settings.hidden}-1 "
                   f"({model.members[0].size} weights and thresholds)",
        "GA population / generations": f"{settings.population} / {settings.generations}",
        "Crossover / mutation probability": f"{settings.crossover:g} / {settings.mutation:g}",
        "LM epochs (maximum)": settings.epochs,
        "LM goal (relative)": f"{settings.goal:g}: LM stops once at most this share of the "
                              "training samples' variance is unexplained (training "
                              f"R\u00b2 \u2265 {1 - settings.goal:g})",
        "Target": "log(content), back-transformed by exp" if settings.log_target
        else f"content ({UNIT})",
        "Ensemble (networks averaged)": settings.ensemble,
        "Seed": settings.seed,
        "Validation fraction": f"{run.validation_fraction:g}",
        "Factor value at a point": _sampling_label(run.sampling),
        "Outlier removal": _outlier_text(run.prepared, run.outlier_threshold)})

    report.heading("Samples")
    samples_section(report, run.prepared, run.n_points, {
        "Training samples": int(split.train.size),
        "Validation samples (held out)": int(split.validation.size)})

    report.heading("Accuracy")
    if split.validation.size == 0:
        report.note("VALIDATION_FRACTION is 0: no samples were held out, so there are no "
                    "validation metrics (shown as \u2014). The training metrics below are "
                    "optimistic: they describe samples the model was fitted to.", "warning")
    columns = {"Training": run.metrics["train"], "Validation": run.metrics["validation"]}
    if split.validation.size:
        columns["Validation, predicting the training mean (reference)"] = run.mean_predictor
    report.table(_metrics_frame(columns), float_format=_float_cells,
                 caption="RMSE = sqrt(mean((predicted - measured)\u00b2)); MRE = "
                         "mean(|predicted - measured| / measured); MAE = mean absolute error; "
                         "R\u00b2 = 1 - SS_res / SS_tot")
    validation = run.metrics["validation"]
    if split.validation.size and validation["RMSE"] >= run.mean_predictor["RMSE"]:
        report.note("On the validation samples the model does no better than predicting the "
                    "mean of the training samples: the factors explain little of the content "
                    "here, or the network overfits. Try ENSEMBLE 5, fewer factors or "
                    "LOG_TARGET.", "warning")
    sets = {"training": (run.predictions["measured"].to_numpy()[split.train],
                         run.predictions["predicted"].to_numpy()[split.train])}
    if split.validation.size:
        sets["validation"] = (run.predictions["measured"].to_numpy()[split.validation],
                              run.predictions["predicted"].to_numpy()[split.validation])
    report.figure(predicted_vs_measured(sets, title=f"{title_metal}: predicted vs measured"),
                  caption="Predicted vs measured content; the dashed line is 1:1")
    cv_section(report, model.cv, model.samples, model.log_target)
    kriging_section(report, model)

    _ensemble_section(report, run)

    report.heading("Training")
    report.figure(ga_figure(model),
                  caption="Genetic algorithm: RMSE of the best network and of the population "
                          "mean on the training samples, per generation")
    report.figure(lm_figure(model),
                  caption="Levenberg-Marquardt from the GA's best network: training RMSE per "
                          "epoch, for every network")
    stops = [curve.get("lm_stop", "") for curve in model.curves]
    report.paragraph("Levenberg-Marquardt stopped: " + "; ".join(
        f"network {index}: {stop}" for index, stop in enumerate(stops, start=1)) + ".")

    report.heading("Per sample")
    report.table(_per_sample_display(run.predictions), float_format=_float_cells,
                 caption=f"Every valid sample: split, measured and predicted content ({UNIT}), "
                         "error = predicted - measured, ensemble std (0 for one network), and "
                         "whether a factor lies outside the training range")
    return report


def _per_sample_display(predictions):
    """Per-sample table for the HTML report (readable column names, no coordinates)."""
    frame = predictions.drop(columns=[c for c in ("x", "y") if c in predictions.columns]).copy()
    frame["split"] = [SPLIT_LABELS.get(value, value) for value in frame["split"]]
    return frame.rename(columns={"sample_id": "sample", "ensemble_std": "ensemble std",
                                 "outside_training_range": "outside training range"})


def training_figure_data(run):
    """The data behind the traingabp report's figures and tables, for scripts (JSON-ready)."""
    model = run.model
    return {
        "algorithm": "traingabp", "metal": model.metal, "field": run.field, "unit": UNIT,
        "curve_unit": target_unit(model), "factor_names": model.factor_names,
        "settings": asdict(run.settings), "validation_fraction": run.validation_fraction,
        "metrics": run.metrics, "mean_predictor_validation": run.mean_predictor,
        "members": run.member_rmse.to_dict(orient="records"),
        "ga": [{"best_rmse": scaled_rmse(c.get("ga_best_mse", []), model),
                "mean_rmse": scaled_rmse(c.get("ga_mean_mse", []), model)} for c in model.curves],
        "lm": [{"rmse": scaled_rmse(c.get("lm_mse", []), model),
                "goal_rmse": scaled_rmse(c.get("lm_goal_mse", 0.0), model),
                "stop": c.get("lm_stop", "")} for c in model.curves],
        "samples": run.predictions.to_dict(orient="records"),
        "dropped": run.prepared.summary_rows(),
        "cv": cv_figure_data(model.cv),
    }


def write_outputs(model, model_path, report=None, report_path=None, table=None,
                  table_path=None, figure_data=None, extra_models=()):
    """Write the model file(s), then report (+ figure JSON) and table; returns the JSON path.

    The model bytes are checked before anything is written, so a model load_model would
    refuse never reaches the disk.
    """
    model_to_bytes(model)
    for extra_model, _ in extra_models:
        model_to_bytes(extra_model)
    html = report.to_html() if report is not None and report_path else None
    if model_path:
        save_model(model, model_path)
    for extra_model, extra_path in extra_models:
        if extra_path:
            save_model(extra_model, extra_path)
    json_path = None
    if html is not None:
        write_text_atomic(report_path, html)
        if figure_data is not None:
            taken = [model_path, table_path] + [p for _, p in extra_models]
            json_path = figures_json_path(report_path, taken)
            write_json(figure_data, json_path)
    if table is not None and table_path:
        write_table_csv(table, table_path)
    return json_path


def write_training_outputs(run, model_path, report_path=None, table_path=None):
    """Write the traingabp model, report (+ figure JSON) and per-sample CSV."""
    report = build_training_report(run) if report_path else None
    return write_outputs(run.model, model_path, report, report_path, run.predictions,
                         table_path, training_figure_data(run) if report_path else None)


# ---------------------------------------------------------------- transfergabp

def source_gabp_settings(source, ensemble, seed, monitor=NULL_MONITOR):
    """GA-BP settings of the source model (for the from-scratch baseline), with ensemble and seed."""
    settings = source.settings if isinstance(source.settings, dict) else {}
    # A transferred source keeps its own source's GA-BP settings under "source".
    while isinstance(settings.get("source"), dict):
        settings = settings["source"]
    known = {item.name for item in fields(GABPSettings)}
    values = {key: value for key, value in settings.items() if key in known}
    values.update(ensemble=int(ensemble), seed=int(seed), log_target=bool(source.log_target))
    try:
        result = GABPSettings(**values)
        result.validate()
        return result
    except (TypeError, ValueError, SoilMetalError):
        monitor.warning("The source model file does not record usable GA-BP settings; the "
                        "from-scratch GA-BP uses the defaults (Table 4 of the paper).")
        return GABPSettings(ensemble=int(ensemble), seed=int(seed),
                            log_target=bool(source.log_target), hidden=source.hidden)


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
    field: str
    n_points: Optional[int]
    sampling: str
    outlier_threshold: Optional[float]
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
                 validation_fraction=0.2, ensemble=1, monitor=NULL_MONITOR, field="",
                 n_points=None, sampling="nearest", outlier_threshold=None, source_sha256=None,
                 cv="spatial", folds=DEFAULT_FOLDS, crs_wkt=""):
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
    _warn_hot_spots(prepared, monitor)
    monitor.info(f"{len(y)} valid target samples: {split.train.size} for retraining, "
                 f"{split.validation.size} for validation, {split.unused.size} not used "
                 f"(seed {settings.seed}).")
    notes = []
    label = metal_label(field)
    source_label = metal_label(source.metal)
    if label in ELEMENT_SYMBOLS and source_label in ELEMENT_SYMBOLS and label != source_label:
        text = (f"The source model predicts {source.metal}, but the target field '{field}' looks "
                f"like {label}. Check that FIELD holds the same metal as the source model.")
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
    metrics = {name: {"train": _metrics(y, pred[0], split.train),
                      "validation": _metrics(y, pred[0], split.validation)}
               for name, pred in predictions.items()}
    target = np.log(y) if source.log_target and np.all(y > 0) else y
    outside = outside_source_ranges(source, x, target)

    source_name = os.path.basename(str(source_path)) if source_path else ""
    samples = {"train": _ids(table, split.train), "validation": _ids(table, split.validation),
               "unused": _ids(table, split.unused)}
    model.provenance.update({
        "source_sha256": source_sha256, "source_file": source_name, "field": field,
        "ensemble_mode": ensemble_mode, "samples": samples,
        "sample_ids_used": samples["train"], "validation_fraction": float(validation_fraction),
        "sampling": sampling, "outliers": prepared.outlier_method,
        "outside_source_range_ids": {
            "samples": _ids(table, outside["samples"]),
            "target_samples": _ids(table, outside["target_samples"])}})
    model.training_metrics = metrics["Tr-GA-BP"]
    baseline.training_metrics = metrics["GA-BP"]
    baseline.provenance = {
        "role": "GA-BP from scratch on the retraining samples of a Tr-GA-BP run (baseline)",
        "field": field, "source_file": source_name, "source_sha256": source_sha256,
        "samples": samples, "validation_fraction": float(validation_fraction),
        "sampling": sampling, "outliers": prepared.outlier_method}

    frame = pd.DataFrame({"sample_id": table.ids, "split": split.labels(len(y)),
                          "x": table.x, "y": table.y, "measured": y})
    for name, _ in MODEL_COLUMNS:
        frame[f"predicted_{name}"] = predictions[name][0]
    frame["ensemble_std_Tr-GA-BP"] = predictions["Tr-GA-BP"][1]
    frame["outside_source_range"] = np.isin(np.arange(len(y)), outside["samples"])

    roles = ["train" if role == "train" else "validation" for role in split.labels(len(y))]
    for fitted in (model, baseline):
        fitted.samples = samples_record(crs_wkt, table.ids, table.x, table.y, x, y, roles)
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
                      settings, baseline_settings, ensemble_mode, field, n_points, sampling,
                      outlier_threshold, frame, metrics, outside, notes, cv_result, verdict)
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
        (monitor.warning if kind == "warning" else monitor.info)(text)


def _table5_frame(run):
    """Table 5 layout: rows RMSE, MRE (+ MRE %, MAE, R2, N), columns the three models."""
    return _metrics_frame({title: run.metrics[key]["validation"] for key, title in MODEL_COLUMNS})


def _outside_frame(run):
    """Per factor: source range, target range, count of target samples outside the source range."""
    x = run.prepared.table.factors[run.source.factor_names].to_numpy(dtype=float)
    rows = []
    for column, name in enumerate(run.source.factor_names):
        low, high = run.source.x_min[column], run.source.x_max[column]
        values = x[:, column]
        rows.append({"factor": name, "source min": low, "source max": high,
                     "target min": float(values.min()), "target max": float(values.max()),
                     "target samples outside": int(np.sum((values < low) | (values > high)))})
    return pd.DataFrame(rows)


def build_transfer_report(run):
    """The transfergabp HTML report of a TransferRun -> HtmlReport."""
    model, source, split, settings = run.model, run.source, run.split, run.settings
    metal = model.metal or run.field
    report = HtmlReport(f"Tr-GA-BP transfer for {metal}")
    report.paragraph(
        "Tr-GA-BP (Yang et al. 2023, section 3.2.2): the weights and thresholds W_S of a GA-BP "
        "model of the source period are transferred as W_T = beta * W_S. beta0 is the value of "
        "the grid that best fits the target retraining samples; then beta and W_T are optimised "
        "together on those few samples. For comparison, a GA-BP model is trained from scratch "
        "on the same samples (the paper's Table 5), and the source model is applied unchanged.")
    for text, kind in run.notes:
        report.note(text, kind)

    for text, kind in transfer_lead_notes(run):
        report.note(text, kind)

    report.heading("Result (the paper's Table 5)")
    has_validation = split.validation.size > 0
    if not has_validation:
        report.note("VALIDATION_FRACTION is 0: no target samples were kept for validation, "
                    "so the hold-out table is empty (shown as \u2014).", "warning")
    elif has_validation:
        source_rmse = run.metrics["Source"]["validation"]["RMSE"]
        tr_rmse = run.metrics["Tr-GA-BP"]["validation"]["RMSE"]
        if source_rmse < tr_rmse:
            report.note(f"On the validation samples the source model applied unchanged does "
                        f"better than the transferred model (RMSE {format_number(source_rmse)} "
                        f"vs {format_number(tr_rmse)} {UNIT}).", "warning")
    report.table(_table5_frame(run), float_format=_float_cells,
                 caption=f"Estimation error on the {split.validation.size} target validation "
                         f"samples (not used for retraining); MRE as a fraction and in %")
    transfer_cv_section(report, run)
    kriging_section(report, run.model, "Tr-GA-BP")
    report.heading("Beta of every network")
    report.paragraph(f"BETA (returned) is the median of the networks' betas: "
                     f"{format_number(float(np.median(model.provenance['beta'])))}.")
    report.table(beta_rows(model), float_format=_float_cells,
                 caption="beta0: the grid value whose beta0 * W_S fits the retraining samples "
                         "best; beta: after optimising beta and W_T together")

    report.heading("Settings")
    report.key_values({
        "Source model": f"{run.source_name} ({source.method}, {source.metal or 'metal not recorded'}"
                        f", {source.ensemble_size} network(s))",
        "Source model SHA-256": run.source_sha256 or "\u2014",
        "Measured field (target)": run.field,
        "Factors": ", ".join(source.factor_names),
        "Retraining samples (TRAIN_SAMPLES)": int(split.train.size),
        "Validation fraction (of the rest)": f"{model.provenance['validation_fraction']:g}",
        "Beta grid": ", ".join(f"{b:g}" for b in settings.beta_grid),
        "Optimiser": "gradient descent (the paper)" if settings.method == "gd"
        else "Levenberg-Marquardt",
        "Learning rate (largest step)": settings.learning_rate,
        "Epochs (maximum)": settings.epochs,
        "Penalty (keeps W_T close to beta * W_S)": settings.penalty,
        "Ensemble": run.ensemble_mode,
        "Seed": settings.seed,
        "From-scratch GA-BP": f"{run.baseline_settings.ensemble} network(s), hidden "
                              f"{run.baseline_settings.hidden}, GA "
                              f"{run.baseline_settings.population} x "
                              f"{run.baseline_settings.generations}, LM "
                              f"{run.baseline_settings.epochs} epochs, goal "
                              f"{run.baseline_settings.goal:g} (the source model's settings)",
        "Factor value at a point": _sampling_label(run.sampling),
        "Outlier removal": _outlier_text(run.prepared, run.outlier_threshold)})

    report.heading("Samples")
    samples_section(report, run.prepared, run.n_points, {
        "Retraining samples": int(split.train.size),
        "Validation samples": int(split.validation.size),
        "Not used": int(split.unused.size)})

    report.heading("Predicted vs measured")
    rows = split.validation if has_validation else split.train
    which = "validation" if has_validation else "retraining"
    measured = run.predictions["measured"].to_numpy()[rows]
    sets = {title: (measured, run.predictions[f"predicted_{key}"].to_numpy()[rows])
            for key, title in MODEL_COLUMNS}
    report.figure(predicted_vs_measured(sets, title=f"{metal}: {which} samples"),
                  caption=f"Predicted vs measured on the {which} samples for the three models; "
                          "the dashed line is 1:1")

    report.heading("Beta and the retraining")
    grid = list(model.provenance["beta_grid"])
    report.figure(beta_grid_figure(grid, model.provenance["grid_mse"], model.provenance["beta0"],
                                   model.provenance["beta"], source),
                  caption="RMSE on the retraining samples of the source network scaled by each "
                          "beta of the grid; the star marks beta0, the dashed line the final "
                          "beta")
    report.figure(transfer_curve_figure(model),
                  caption="Training RMSE and beta per epoch while beta and W_T are optimised")
    stops = [curve.get("stop", "") for curve in model.curves]
    report.paragraph("Retraining stopped: " + "; ".join(
        f"network {index}: {stop}" for index, stop in enumerate(stops, start=1)) + ".")

    report.heading("Target values outside the source ranges")
    outside = run.outside
    if outside["samples"] or outside["target_samples"]:
        report.note(
            f"{len(outside['samples'])} target samples have factor values outside the ranges "
            f"of the source model's training samples, and {len(outside['target_samples'])} a "
            "content outside its range: there the transferred network extrapolates.", "warning")
    else:
        report.paragraph("Every target sample lies within the source model's factor and content "
                         "ranges.")
    report.table(_outside_frame(run), float_format=_float_cells,
                 caption="Factor ranges of the source training samples and of the target samples")
    table = run.prepared.table
    if outside["samples"]:
        report.paragraph("Samples with a factor outside the source range: "
                         + ", ".join(_ids(table, outside["samples"])))
    if outside["target_samples"]:
        report.paragraph("Samples with a content outside the source range: "
                         + ", ".join(_ids(table, outside["target_samples"])))

    report.heading("Per sample")
    display = run.predictions.drop(columns=["x", "y"]).copy()
    display["split"] = [SPLIT_LABELS.get(value, value) for value in display["split"]]
    report.table(display.rename(columns={
        "sample_id": "sample", "predicted_GA-BP": "GA-BP (from scratch)",
        "predicted_Tr-GA-BP": "Tr-GA-BP", "predicted_Source": "source unchanged",
        "ensemble_std_Tr-GA-BP": "Tr-GA-BP ensemble std",
        "outside_source_range": "outside source range"}), float_format=_float_cells,
        caption=f"Every valid target sample: split, measured and predicted content ({UNIT})")
    return report


def transfer_figure_data(run):
    """The data behind the transfergabp report's figures and tables, for scripts (JSON-ready)."""
    model = run.model
    return {
        "algorithm": "transfergabp", "metal": model.metal, "field": run.field, "unit": UNIT,
        "curve_unit": target_unit(model), "source_file": run.source_name,
        "source_sha256": run.source_sha256, "metrics": run.metrics,
        "negative_transfer": run.negative_transfer,
        "beta_grid": model.provenance["beta_grid"],
        "grid_rmse": [scaled_rmse(errors, model) for errors in model.provenance["grid_mse"]],
        "beta0": model.provenance["beta0"], "beta": model.provenance["beta"],
        "curves": [{"train_rmse": scaled_rmse(c.get("train_mse", []), model),
                    "beta": c.get("beta", []), "stop": c.get("stop", "")}
                   for c in model.curves],
        "outside_source_ranges": _outside_frame(run).to_dict(orient="records"),
        "samples": run.predictions.to_dict(orient="records"),
        "dropped": run.prepared.summary_rows(),
        "members": beta_rows(model).to_dict(orient="records"),
        **transfer_cv_figure_data(run),
    }


def write_transfer_outputs(run, model_path, report_path=None, table_path=None,
                           baseline_path=None):
    """Write the Tr-GA-BP model, the optional baseline model, report (+ figure JSON) and CSV."""
    report = build_transfer_report(run) if report_path else None
    return write_outputs(run.model, model_path, report, report_path, run.predictions,
                         table_path, transfer_figure_data(run) if report_path else None,
                         extra_models=[(run.baseline, baseline_path)] if baseline_path else ())


# ---------------------------------------------------------------- evaluatemodel

@dataclass
class EvaluationRun:
    """Everything one evaluatemodel run produced."""

    model: Model
    model_name: str
    prepared: object
    field: str
    n_points: Optional[int]
    sampling: str
    outlier_threshold: Optional[float]
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


def run_evaluation(model, prepared, model_path="", monitor=NULL_MONITOR, field="",
                   n_points=None, sampling="nearest", outlier_threshold=None,
                   include_training=False, crs_wkt="", interval_coverage=0.9):
    """A model against prepared samples -> EvaluationRun. Samples at the model's own training
    or validation samples (model.samples, by location) are left out unless include_training."""
    table = prepared.table
    x = table.factors[model.factor_names].to_numpy(dtype=float)
    y = np.asarray(table.values, dtype=float)
    independence = match_model_samples(model, table.x, table.y, crs_wkt)
    used = np.ones(y.size, dtype=bool) if include_training else ~independence.at_model_sample
    for text, kind in independence_notes(independence, include_training, y.size):
        (monitor.warning if kind == "warning" else monitor.info)(text)
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
                        prepared, field, n_points, sampling, outlier_threshold, predictions,
                        metrics, independence, bool(include_training),
                        str(model_path) if model_path else "", coverage)
    monitor.info(f"{metrics['N']} {run.label}: RMSE {format_number(metrics['RMSE'])} {UNIT}, "
                 f"MRE {format_number(metrics['MRE'])}, MAE {format_number(metrics['MAE'])}, "
                 f"R2 {format_number(metrics['R2'])}.")
    if outside[used].any():
        monitor.warning(f"{int(outside[used].sum())} of {int(used.sum())} samples have factor "
                        "values outside the model's training ranges (extrapolation).")
    monitor.set_progress(100)
    return run


def build_evaluation_report(run):
    """The evaluatemodel HTML report of an EvaluationRun -> HtmlReport."""
    model, metrics = run.model, run.metrics
    metal = model.metal or run.field
    report = HtmlReport(f"Evaluation of the {metal} model")
    report.paragraph(f"The model's predictions compared with the measured content; the "
                     f"metrics describe {run.label}.")
    for text, kind in independence_notes(run.independence, run.include_training,
                                         len(run.predictions)):
        report.note(text, kind)
    report.heading("Model and samples")
    report.key_values({
        "Model file": run.model_name or "\u2014",
        "Method": model.method,
        "Metal": model.metal or "\u2014",
        "Factors": ", ".join(model.factor_names),
        "Networks": model.ensemble_size,
        "Measured field": run.field,
        "Factor value at a point": _sampling_label(run.sampling),
        "Outlier removal": _outlier_text(run.prepared, run.outlier_threshold)})
    samples_section(report, run.prepared, run.n_points, {
        "Left out: at a sample the model was trained or validated on (N_EXCLUDED)":
            int((~run.used).sum()),
        "Samples evaluated": metrics["N"]})

    report.heading("Accuracy")
    report.table(_metrics_frame({run.label[0].upper() + run.label[1:]: metrics}),
                 float_format=_float_cells,
                 caption="RMSE = sqrt(mean((predicted - measured)\u00b2)); MRE = "
                         "mean(|predicted - measured| / measured); MAE = mean absolute error; "
                         "R\u00b2 = 1 - SS_res / SS_tot")
    if run.coverage:
        cov = run.coverage
        report.paragraph(
            f"Prediction intervals: {cov['inside']} of {cov['n']} samples lie inside the model's "
            f"{100 * cov['nominal']:g} % interval (from its cross-validation residuals, as "
            f"'Predict content map' writes them): observed coverage "
            f"{format_number(100 * cov['coverage'])} % (COVERAGE). Well below the nominal share "
            "means the intervals are too narrow at these samples.")
    else:
        report.paragraph("Prediction intervals: not checked, the model file has no "
                         "cross-validation residuals (trained with CV = 0 or before soilmetal "
                         "0.2.0); COVERAGE is NaN.")
    shown = run.predictions[run.used]
    outside = shown["outside_training_range"].to_numpy(dtype=bool)
    if outside.any():
        report.note(f"{int(outside.sum())} of {outside.size} samples have factor values outside "
                    "the ranges of the model's training samples: the model extrapolates there.",
                    "warning")
    sets = {"inside the training ranges": (shown["measured"][~outside],
                                           shown["predicted"][~outside])}
    if outside.any():
        sets["outside (extrapolation)"] = (shown["measured"][outside],
                                           shown["predicted"][outside])
    report.figure(predicted_vs_measured(sets, title=f"{metal}: predicted vs measured"),
                  caption="Predicted vs measured content; the dashed line is 1:1")
    report.heading("Per sample")
    display = run.predictions.drop(columns=["x", "y"]).rename(columns={
        "sample_id": "sample", "ensemble_std": "ensemble std",
        "outside_training_range": "outside training range",
        "model_sample_role": "at a model sample (its role)", "evaluated": "in the metrics"})
    report.table(display, float_format=_float_cells,
                 caption=f"Measured and predicted content ({UNIT}), error = predicted - measured")
    return report


def evaluation_figure_data(run):
    """The data behind the evaluatemodel report, for scripts (JSON-ready)."""
    return {"algorithm": "evaluatemodel", "metal": run.model.metal, "field": run.field,
            "unit": UNIT, "model_file": run.model_name, "metrics": run.metrics,
            "metrics_describe": run.label, "n_excluded": int((~run.used).sum()),
            "interval_coverage": run.coverage or None,
            "location_tolerance": run.independence.tolerance if run.independence else None,
            "samples": run.predictions.to_dict(orient="records"),
            "dropped": run.prepared.summary_rows()}


def write_evaluation_outputs(run, report_path=None, table_path=None):
    """Write the evaluatemodel report (+ figure JSON) and per-sample CSV."""
    report = build_evaluation_report(run) if report_path else None
    html = report.to_html() if report is not None else None
    json_path = None
    if html is not None:
        write_text_atomic(report_path, html)
        json_path = figures_json_path(report_path, [table_path, run.model_path])
        write_json(evaluation_figure_data(run), json_path)
    if table_path:
        write_table_csv(run.predictions, table_path)
    return json_path
