"""The selectfactors report: the CSV table and the HTML report that explain the choice.

The report is written for the analyst who has to defend the factor set: which samples were
used and why others were not, each factor's r, p-value and VIF with the reason it was kept
or dropped, and a linear check (MLR) of what the always-included factors add.
"""

import math

import pandas as pd

from ..science.metrics import UNIT
from ..text import format_number
from .common import sample_reading_rows, samples_section
from .figures import correlation_matrix_figure
from .html import HtmlReport, write_table_csv


def write_selection_outputs(run, table_path=None, report_path=None):
    """Write the CSV table and/or the HTML report of a run (each only when a path is given)."""
    if table_path:
        write_table_csv(run.result.table, table_path)
    if report_path:
        build_selection_report(run).save(report_path)


def _same_names(a, b):
    """True when two comma-separated factor lists hold the same names."""
    return set(filter(None, str(a).split(","))) == set(filter(None, str(b).split(",")))


def interpret_mlr(mlr, always_include, unit=UNIT):
    """One or two plain sentences reading the MLR table (rows 'selected' and, optionally,
    'without always-included')."""
    chosen = mlr.iloc[0]
    n_factors = int(chosen["n_factors"])
    if n_factors == 0:
        text = (f"With no factor selected the regression is the mean of the samples: "
                f"RMSE {format_number(chosen['rmse'])} {unit}.")
    else:
        text = (f"A linear regression of the metal on the {n_factors} selected factor(s) "
                f"explains R\u00b2 = {format_number(chosen['r2'], 3)} of its variance at the "
                f"{int(chosen['n_samples'])} samples (adjusted R\u00b2 "
                f"{format_number(chosen['adj_r2'], 3)}); its leave-one-out RMSE is "
                f"{format_number(chosen['rmse_loo'])} {unit}.")
    if len(mlr) < 2 or not always_include:
        return text
    without = mlr.iloc[1]
    names = ", ".join(always_include)
    if _same_names(chosen["factors"], without["factors"]):
        return text + (f" The always-included factor(s) {names} would have been selected "
                       "anyway: both rows are the same set.")
    r2_text = (f"R\u00b2 rises from {format_number(without['r2'], 3)} to "
               f"{format_number(chosen['r2'], 3)}")
    adj_before, adj_after = float(without["adj_r2"]), float(chosen["adj_r2"])
    loo_before, loo_after = float(without["rmse_loo"]), float(chosen["rmse_loo"])
    details = (f"adjusted R\u00b2 {format_number(adj_before, 3)} \u2192 "
               f"{format_number(adj_after, 3)}, leave-one-out RMSE "
               f"{format_number(loo_before)} \u2192 {format_number(loo_after)} {unit}")
    comparable = all(math.isfinite(v) for v in (adj_before, adj_after, loo_before, loo_after))
    if comparable and adj_after > adj_before and loo_after < loo_before:
        verdict = ("so they add information a linear model can use, beyond the extra "
                   "parameters")
    elif comparable and adj_after <= adj_before and loo_after >= loo_before:
        verdict = ("so on these samples they add no linear information (R\u00b2 always rises "
                   "when factors are added). The paper kept terrain factors for their "
                   "physical role; the GA-BP network may still use them non-linearly, which "
                   "its validation samples will show")
    else:
        verdict = "so the gain is marginal: the two honest measures disagree"
    return text + (f" Adding the always-included factor(s) {names}: {r2_text} ({details}), "
                   f"{verdict}.")


def _settings_rows(run):
    """The Settings section as an ordered dict."""
    settings = run.settings
    return {"Measured field": run.samples_context.field,
            "Factor rasters": "; ".join(run.samples.raster_paths) or "\u2014",
            "Candidate factors": f"{len(run.candidates)}: {', '.join(run.candidates)}",
            "Minimum |r| (MIN_ABS_R)": settings.min_abs_r,
            "Maximum VIF (MAX_VIF)": settings.max_vif,
            "Always included (ALWAYS_INCLUDE)": ", ".join(settings.always_include) or "none",
            **sample_reading_rows(run, "Sampling")}


def build_selection_report(run):
    """The selectfactors HTML report of a SelectionRun -> HtmlReport."""
    result, prepared, settings, field = run.result, run.prepared, run.settings, run.samples_context.field
    report = HtmlReport(f"Factor selection for {field}")
    report.paragraph(
        "Pearson correlation of each factor with the measured content at the sample points, "
        "then iterative variance-inflation-factor (VIF) screening (Yang et al. 2023, section "
        "3.1.3). A factor is kept when |r| reaches the minimum and its VIF stays below the "
        "maximum once the most collinear factors have been dropped one at a time; the "
        "always-included factors stay in regardless.")
    report.heading("Settings")
    report.key_values(_settings_rows(run))

    report.heading("Samples")
    samples_section(report, prepared, run.samples_context.n_points, {
        "Dropped for a missing factor value during screening": result.n_dropped,
        "Samples used": result.n_samples}, caption="Samples that were not used, with the reason")

    report.heading("Factors")
    selected_text = ", ".join(result.selected) if result.selected else "none"
    report.paragraph(f"Selected ({len(result.selected)}): {selected_text}")
    if not result.selected:
        report.note("No factor passed the screening. Lower the minimum |r|, add factors "
                    "through ALWAYS_INCLUDE, or check the field and the factor rasters.",
                    "warning")
    table = result.table.rename(columns={
        "factor": "Factor", "r": "r", "p_value": "p-value", "vif": "VIF",
        "selected": "Selected", "reason": "Reason"})
    report.table(table, float_format={"r": "{:.3f}", "p-value": _p_text, "VIF": "{:.2f}"},
                 caption=f"Pearson r and two-sided p-value with {field} "
                         f"(n = {result.n_samples}); VIF at the last screening step")
    if len(result.vif_steps) > 1:
        steps = pd.DataFrame(result.vif_steps)
        steps.insert(0, "step", range(len(steps)))
        report.table(steps, float_format="{:.2f}",
                     caption="VIF of the remaining candidates before each drop (empty = "
                             "already dropped)")

    report.heading("Linear check (multiple linear regression)")
    mlr = result.mlr.rename(columns={
        "model": "Factor set", "factors": "Factors", "n_samples": "n",
        "n_factors": "k", "r2": "R\u00b2", "adj_r2": "Adjusted R\u00b2",
        "rmse": f"RMSE ({UNIT})", "rmse_loo": f"Leave-one-out RMSE ({UNIT})"})
    report.table(mlr, float_format="{:.3f}",
                 caption="Ordinary least squares of the metal on each factor set, at the "
                         "samples used")
    report.paragraph(interpret_mlr(result.mlr, settings.always_include))

    matrix = result.correlation_matrix
    if len(matrix.columns) >= 2:
        report.heading("Correlation matrix")
        report.figure(correlation_matrix_figure(
            matrix, title=f"Pearson r among the factors and {result.metal_name}"),
            caption="Pearson r between every pair of non-constant factors and the metal, at "
                    "the samples used")
    return report


def _p_text(value):
    """A p-value as text: 3 significant digits, '< 1e-300' at underflow."""
    return "< 1e-300" if value == 0 else f"{value:.3g}"
