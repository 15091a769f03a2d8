"""selectfactors end to end: sample the factor rasters at the points, screen the factors
(core.selection), and write the CSV table and the HTML report that explain the choice.

The report is written for the analyst who has to defend the factor set: which samples were
used and why others were not, each factor's r, p-value and VIF with the reason it was kept
or dropped, and a linear check (MLR) of what the always-included factors add.
"""

import math
from dataclasses import dataclass, field
from typing import List, Optional

import pandas as pd

from .errors import SoilMetalError
from .monitor import NULL_MONITOR
from .reports.common import samples_section
from .guards import check_unique_names
from .reports.html import HtmlReport, write_table_csv
from .text import format_number
from .reports.figures import correlation_matrix_figure
from .sampling import SAMPLING_LABELS, SAMPLING_METHODS, catalogue_factors, prepare_samples
from .science.selection import MIN_SAMPLES, select_factors
from .science.metrics import UNIT



@dataclass
class SelectionSettings:
    """What the user asked for, as shown in the report."""

    field: str
    min_abs_r: float = 0.3
    max_vif: float = 10.0
    always_include: List[str] = field(default_factory=list)
    sampling: str = "nearest"
    outliers: str = "none"
    outlier_threshold: Optional[float] = None
    rasters: List[str] = field(default_factory=list)


@dataclass
class SelectionRun:
    """Everything a selectfactors run produced: samples, screening result and settings."""

    settings: SelectionSettings
    n_points: int
    prepared: object            # core.sampling.PreparedSamples
    result: object              # core.selection.SelectionResult
    candidates: List[str]       # every factor name found in the rasters, in order


def no_selection_message(table, min_abs_r):
    """Why no factor was selected, with the strongest candidates: an empty SELECTED would make
    'Train GA-BP model' (empty FACTOR_NAMES = every factor) train on all of them."""
    ranked = table.assign(strength=table["r"].abs()).sort_values("strength", ascending=False)
    best = "; ".join(f"{row.factor}: r = {format_number(row.r, 3)} ({row.reason})"
                     for row in ranked.head(3).itertuples(index=False))
    return (f"No factor passed the screening (MIN_ABS_R = {min_abs_r:g}); the strongest were "
            f"{best or 'none'}. Lower MIN_ABS_R, name the factors to keep in ALWAYS_INCLUDE, or "
            "check the factors and the field. (ALLOW_EMPTY writes the table and report of an "
            "empty selection; its empty SELECTED must not feed FACTOR_NAMES, where empty means "
            "every factor.)")


def check_always_include(names, candidates):
    """SoilMetalError when an ALWAYS_INCLUDE name is not a band of the factor rasters."""
    check_unique_names(names, "ALWAYS_INCLUDE")
    unknown = [name for name in names if name not in candidates]
    if unknown:
        raise SoilMetalError(
            f"ALWAYS_INCLUDE: factor(s) {', '.join(unknown)} not found in the factor rasters. "
            f"Available factors: {', '.join(candidates) or 'none'}. Names are band descriptions "
            "and are case-sensitive: correct them, or add the raster that holds them.")


def run_selection(points, sources, settings, monitor=NULL_MONITOR):
    """Sample all factors of the rasters at the points, then screen them -> SelectionRun."""
    if settings.sampling not in SAMPLING_METHODS:
        raise SoilMetalError(f"Unknown sampling method '{settings.sampling}'.")
    candidates = list(catalogue_factors(sources))
    check_always_include(settings.always_include, candidates)
    monitor.info(f"{len(candidates)} candidate factor(s): {', '.join(candidates)}.")
    prepared = prepare_samples(points, sources, None, settings.sampling, settings.outliers,
                               settings.outlier_threshold, MIN_SAMPLES, monitor)
    monitor.set_progress(50)
    monitor.check_cancelled()
    values = pd.Series(prepared.table.values, name=settings.field or "metal")
    result = select_factors(prepared.table.factors, values, settings.min_abs_r,
                            settings.max_vif, settings.always_include)
    for row in result.table.itertuples(index=False):
        monitor.info(f"{row.factor}: r = {format_number(row.r, 3)}, VIF = "
                     f"{format_number(row.vif, 3)}, {'kept' if row.selected else 'dropped'} "
                     f"({row.reason}).")
    if not result.selected:
        monitor.warning("No factor passed the screening: lower MIN_ABS_R, or check the "
                        "factors and the field.")
    monitor.set_progress(100)
    return SelectionRun(settings, len(points), prepared, result, candidates)


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
    sampling_label = SAMPLING_LABELS[SAMPLING_METHODS.index(settings.sampling)]
    outliers = settings.outliers
    if outliers != "none":
        threshold = settings.outlier_threshold
        outliers += f" (threshold {format_number(threshold) if threshold is not None else 'default'})"
    rows = {"Measured field": settings.field,
            "Factor rasters": "; ".join(settings.rasters) or "\u2014",
            "Candidate factors": f"{len(run.candidates)}: {', '.join(run.candidates)}",
            "Minimum |r| (MIN_ABS_R)": settings.min_abs_r,
            "Maximum VIF (MAX_VIF)": settings.max_vif,
            "Always included (ALWAYS_INCLUDE)": ", ".join(settings.always_include) or "none",
            "Sampling": sampling_label,
            "Outlier removal": outliers}
    return rows


def build_selection_report(run):
    """The selectfactors HTML report of a SelectionRun -> HtmlReport."""
    result, prepared, settings = run.result, run.prepared, run.settings
    report = HtmlReport(f"Factor selection for {settings.field}")
    report.paragraph(
        "Pearson correlation of each factor with the measured content at the sample points, "
        "then iterative variance-inflation-factor (VIF) screening (Yang et al. 2023, section "
        "3.1.3). A factor is kept when |r| reaches the minimum and its VIF stays below the "
        "maximum once the most collinear factors have been dropped one at a time; the "
        "always-included factors stay in regardless.")
    report.heading("Settings")
    report.key_values(_settings_rows(run))

    report.heading("Samples")
    samples_section(report, prepared, run.n_points, {
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
                 caption=f"Pearson r and two-sided p-value with {settings.field} "
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
