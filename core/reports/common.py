"""What the model reports share: where the figure JSON goes, curve units, readable settings,
the samples section, the metrics table and the writer of a run's files.
"""

import os

import numpy as np
import pandas as pd

from ..model_file import model_to_bytes, save_model
from ..science.outliers import hot_spot_warning
from ..outputs import final_path
from .html import write_json, write_table_csv, write_text_atomic
from ..text import format_number
from ..sampling import SAMPLING_LABELS, SAMPLING_METHODS
from ..science.metrics import UNIT


SPLIT_LABELS = {"train": "training", "validation": "validation", "unused": "not used"}


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


def sampling_label(sampling):
    """Readable sampling method."""
    return SAMPLING_LABELS[SAMPLING_METHODS.index(sampling)] if sampling in SAMPLING_METHODS \
        else str(sampling)


def outlier_text(prepared, threshold):
    """Readable outlier rule that was applied."""
    method = prepared.outlier_method
    if method == "none":
        return "none"
    return f"{method} (threshold {format_number(threshold) if threshold is not None else 'default'})"


def report_metal(run):
    """The metal a model report names: the model's, else the measured field (a model file
    that records no metal)."""
    return run.model.metal or run.samples_context.field


def sample_reading_rows(run, sampling_title="Factor value at a point"):
    """The Settings rows saying how a run's samples were read: the factor value at a point and
    the outlier rule applied (run has prepared and samples_context)."""
    context = run.samples_context
    return {sampling_title: sampling_label(context.sampling),
            "Outlier removal": outlier_text(run.prepared, context.outlier_threshold)}


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


def metrics_frame(columns):
    """Metrics table: rows RMSE, MRE, MRE %, MAE, R2, N; one column per {name: metrics}."""
    names = [f"RMSE ({UNIT})", "MRE (fraction)", "MRE (%)", f"MAE ({UNIT})", "R\u00b2",
             "N (samples)"]
    frame = {"": names}
    for name, metrics in columns.items():
        mre = metrics["MRE"]
        frame[name] = [metrics["RMSE"], mre, 100.0 * mre if mre is not None else None,
                       metrics["MAE"], metrics["R2"], int(metrics["N"])]
    return pd.DataFrame(frame)


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
    taken = [model_path] + [p for _, p in extra_models]
    return write_report_files(html, report_path, figure_data, table, table_path, taken)


def write_report_files(html, report_path=None, figure_data=None, table=None, table_path=None, taken=()):
    """Write a report's HTML (+ its figure JSON, on a path no model or table file holds) and its
    table; returns the JSON path (None when none was written)."""
    json_path = None
    if html is not None:
        write_text_atomic(report_path, html)
        if figure_data is not None:
            json_path = figures_json_path(report_path, [table_path, *taken])
            write_json(figure_data, json_path)
    if table is not None and table_path:
        write_table_csv(table, table_path)
    return json_path
