"""The evaluatemodel report (HTML, figure JSON) and the writer of its outputs.
"""

from ..workflows.evaluation import independence_notes
from .html import HtmlReport
from ..text import format_number
from .figures import predicted_vs_measured
from ..science.metrics import UNIT
from .common import (metrics_frame, report_metal, sample_reading_rows,
                     samples_section, write_report_files)


def build_evaluation_report(run):
    """The evaluatemodel HTML report of an EvaluationRun -> HtmlReport."""
    model, metrics = run.model, run.metrics
    report = HtmlReport(f"Evaluation of the {report_metal(run)} model")
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
        "Measured field": run.samples_context.field,
        **sample_reading_rows(run)})
    samples_section(report, run.prepared, run.samples_context.n_points, {
        "Left out: at a sample the model was trained or validated on (N_EXCLUDED)":
            int((~run.used).sum()),
        "Samples evaluated": metrics["N"]})

    report.heading("Accuracy")
    report.table(metrics_frame({run.label[0].upper() + run.label[1:]: metrics}),
                 float_format=format_number,
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
    report.figure(predicted_vs_measured(sets, title=f"{report_metal(run)}: predicted vs measured"),
                  caption="Predicted vs measured content; the dashed line is 1:1")
    report.heading("Per sample")
    display = run.predictions.drop(columns=["x", "y"]).rename(columns={
        "sample_id": "sample", "ensemble_std": "ensemble std",
        "outside_training_range": "outside training range",
        "model_sample_role": "at a model sample (its role)", "evaluated": "in the metrics"})
    report.table(display, float_format=format_number,
                 caption=f"Measured and predicted content ({UNIT}), error = predicted - measured")
    return report


def evaluation_figure_data(run):
    """The data behind the evaluatemodel report, for scripts (JSON-ready)."""
    return {"algorithm": "evaluatemodel", "metal": run.model.metal, "field": run.samples_context.field,
            "unit": UNIT, "model_file": run.model_name, "metrics": run.metrics,
            "metrics_describe": run.label, "n_excluded": int((~run.used).sum()),
            "interval_coverage": run.coverage or None,
            "location_tolerance": run.independence.tolerance if run.independence else None,
            "samples": run.predictions.to_dict(orient="records"),
            "dropped": run.prepared.summary_rows()}


def write_evaluation_outputs(run, report_path=None, table_path=None):
    """Write the evaluatemodel report (+ figure JSON) and per-sample CSV."""
    html = build_evaluation_report(run).to_html() if report_path else None
    figure_data = evaluation_figure_data(run) if html is not None else None
    return write_report_files(html, report_path, figure_data, run.predictions, table_path, [run.model_path])
