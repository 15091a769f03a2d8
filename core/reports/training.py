"""The traingabp report (HTML, figure JSON) and the writer of its outputs.
"""

from dataclasses import asdict

import numpy as np

from .cv import cv_figure_data, cv_lead_note, cv_section
from .kriging import kriging_section
from .html import HtmlReport
from ..text import format_number
from .figures import bar_figure, predicted_vs_measured
from ..science.metrics import UNIT
from .common import (SPLIT_LABELS, metrics_frame, report_metal, sample_reading_rows,
                     samples_section, scaled_rmse, target_unit, write_outputs)
from .figures import ga_figure, lm_figure


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
    report.table(members, float_format=format_number,
                 caption=f"RMSE ({UNIT}) of each network on its own")


def build_training_report(run):
    """The traingabp HTML report of a TrainingRun -> HtmlReport."""
    model, settings, split = run.model, run.settings, run.split
    report = HtmlReport(f"GA-BP model for {report_metal(run)}")
    report.paragraph(
        "GA-BP (Yang et al. 2023, section 3.2.1): a genetic algorithm seeds all weights and "
        "thresholds of a 3-layer BP network, then Levenberg-Marquardt trains it on the training "
        "samples. The held-out validation samples measure how well the model predicts samples "
        "it has not seen.")
    cv_lead_note(report, model.cv)
    report.heading("Settings")
    report.key_values({
        "Measured field": run.samples_context.field,
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
        **sample_reading_rows(run)})

    report.heading("Samples")
    samples_section(report, run.prepared, run.samples_context.n_points, {
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
    report.table(metrics_frame(columns), float_format=format_number,
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
    report.figure(predicted_vs_measured(sets, title=f"{report_metal(run)}: predicted vs measured"),
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
    report.table(_per_sample_display(run.predictions), float_format=format_number,
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
        "algorithm": "traingabp", "metal": model.metal, "field": run.samples_context.field, "unit": UNIT,
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


def write_training_outputs(run, model_path, report_path=None, table_path=None):
    """Write the traingabp model, report (+ figure JSON) and per-sample CSV."""
    report = build_training_report(run) if report_path else None
    return write_outputs(run.model, model_path, report, report_path, run.predictions,
                         table_path, training_figure_data(run) if report_path else None)
