"""The topographiccorrection report (HTML): per band the fitted parameter and the correlation
with cos(i) before and after the correction, from a TopographicRun.
"""

import os

from .html import HtmlReport
from ..science.topographic import METHOD_LABELS, MIN_COS_I

PARAMETER_NAMES = {"c": "c", "scs_c": "c", "minnaert": "k"}


def build_topographic_report(run):
    """The topographiccorrection HTML report of a TopographicRun -> HtmlReport."""
    parameter_name = PARAMETER_NAMES.get(run.method)
    report = HtmlReport("Topographic correction")
    report.key_values({
        "Input": os.path.basename(run.input_path), "DEM": os.path.basename(run.dem_path),
        "Method": METHOD_LABELS[run.method],
        "Sun azimuth (deg)": round(run.sun_azimuth, 3),
        "Sun elevation (deg)": round(run.sun_elevation, 3),
        "QA-masked share of the pixels with data": round(run.masked_share, 4),
        "Blocks fitted and measured": "{} of {}".format(*run.fit_blocks)})
    report.paragraph(
        "cos(i) = cos Z cos s + sin Z sin s cos(sun azimuth - aspect), Z the solar zenith, s the "
        "slope. A corrected band should no longer depend on illumination: its correlation with "
        f"cos(i) should fall to about 0. Parameters are fitted on the valid pixels with cos(i) > "
        f"{MIN_COS_I} (inside the fitting mask when one is given); the correlations "
        "are measured on the same pixels.")
    table = []
    for row in run.bands:
        entry = {"band": row["band"], "pixels": row["n_fit"],
                 "r with cos(i) before": row["r_before"], "r with cos(i) after": row["r_after"]}
        if parameter_name:
            entry[parameter_name] = ("not corrected" if row["parameter"] is None
                                     else row["parameter"])
        table.append(entry)
    report.table(table, float_format="{:.4f}")
    for message in run.warnings:
        report.note(message, kind="warning")
    return report


def write_topographic_report(run, report_path):
    """Write the report of a finished TopographicRun to report_path (HTML)."""
    build_topographic_report(run).save(report_path)
