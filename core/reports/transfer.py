"""The transfergabp report (HTML, figure JSON) and the writer of its outputs.
"""

import numpy as np
import pandas as pd

from .cv_transfer import beta_rows, transfer_cv_figure_data, transfer_cv_section
from ..workflows.transfer_verdict import transfer_lead_notes
from .kriging import kriging_section
from .html import HtmlReport
from ..text import format_number
from .figures import predicted_vs_measured
from ..science.metrics import UNIT
from ..workflows.common import sample_ids_of
from ..workflows.transfer import MODEL_COLUMNS
from .common import (SPLIT_LABELS, metrics_frame, report_metal, sample_reading_rows,
                     samples_section, scaled_rmse, target_unit, write_outputs)
from .figures import beta_grid_figure, transfer_curve_figure


def _table5_frame(run):
    """Table 5 layout: rows RMSE, MRE (+ MRE %, MAE, R2, N), columns the three models."""
    return metrics_frame({title: run.metrics[key]["validation"] for key, title in MODEL_COLUMNS})


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
    report = HtmlReport(f"Tr-GA-BP transfer for {report_metal(run)}")
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
    else:
        source_rmse = run.metrics["Source"]["validation"]["RMSE"]
        tr_rmse = run.metrics["Tr-GA-BP"]["validation"]["RMSE"]
        if source_rmse < tr_rmse:
            report.note(f"On the validation samples the source model applied unchanged does "
                        f"better than the transferred model (RMSE {format_number(source_rmse)} "
                        f"vs {format_number(tr_rmse)} {UNIT}).", "warning")
    report.table(_table5_frame(run), float_format=format_number,
                 caption=f"Estimation error on the {split.validation.size} target validation "
                         f"samples (not used for retraining); MRE as a fraction and in %")
    transfer_cv_section(report, run)
    kriging_section(report, run.model, "Tr-GA-BP")
    report.heading("Beta of every network")
    report.paragraph(f"BETA (returned) is the median of the networks' betas: "
                     f"{format_number(float(np.median(model.provenance['beta'])))}.")
    report.table(beta_rows(model), float_format=format_number,
                 caption="beta0: the grid value whose beta0 * W_S fits the retraining samples "
                         "best; beta: after optimising beta and W_T together")

    report.heading("Settings")
    report.key_values({
        "Source model": f"{run.source_name} ({source.method}, {source.metal or 'metal not recorded'}"
                        f", {source.ensemble_size} network(s))",
        "Source model SHA-256": run.source_sha256 or "\u2014",
        "Measured field (target)": run.samples_context.field,
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
        **sample_reading_rows(run)})

    report.heading("Samples")
    samples_section(report, run.prepared, run.samples_context.n_points, {
        "Retraining samples": int(split.train.size),
        "Validation samples": int(split.validation.size),
        "Not used": int(split.unused.size)})

    report.heading("Predicted vs measured")
    rows = split.validation if has_validation else split.train
    which = "validation" if has_validation else "retraining"
    measured = run.predictions["measured"].to_numpy()[rows]
    sets = {title: (measured, run.predictions[f"predicted_{key}"].to_numpy()[rows])
            for key, title in MODEL_COLUMNS}
    report.figure(predicted_vs_measured(sets, title=f"{report_metal(run)}: {which} samples"),
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
    report.table(_outside_frame(run), float_format=format_number,
                 caption="Factor ranges of the source training samples and of the target samples")
    table = run.prepared.table
    if outside["samples"]:
        report.paragraph("Samples with a factor outside the source range: "
                         + ", ".join(sample_ids_of(table, outside["samples"])))
    if outside["target_samples"]:
        report.paragraph("Samples with a content outside the source range: "
                         + ", ".join(sample_ids_of(table, outside["target_samples"])))

    report.heading("Per sample")
    display = run.predictions.drop(columns=["x", "y"]).copy()
    display["split"] = [SPLIT_LABELS.get(value, value) for value in display["split"]]
    report.table(display.rename(columns={
        "sample_id": "sample", "predicted_GA-BP": "GA-BP (from scratch)",
        "predicted_Tr-GA-BP": "Tr-GA-BP", "predicted_Source": "source unchanged",
        "ensemble_std_Tr-GA-BP": "Tr-GA-BP ensemble std",
        "outside_source_range": "outside source range"}), float_format=format_number,
        caption=f"Every valid target sample: split, measured and predicted content ({UNIT})")
    return report


def transfer_figure_data(run):
    """The data behind the transfergabp report's figures and tables, for scripts (JSON-ready)."""
    model = run.model
    return {
        "algorithm": "transfergabp", "metal": model.metal, "field": run.samples_context.field, "unit": UNIT,
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
