"""contentstatistics' outputs of a StatisticsRun (core/workflows/statistics.py): the CSV table
(TABLE_COLUMNS: statistics, content classes, index classes, area above THRESHOLD and inside the
AOA as rows), the report's figures and the HTML report.
"""

import numpy as np
import pandas as pd

from .. import raster_io
from ..science import classes
from ..science.content_stats import break_label
from ..science.metrics import UNIT
from ..text import format_number
from .figures import bar_figure, histogram_figure, map_figure, quantity_label
from .html import HtmlReport, write_table_csv

TABLE_COLUMNS = ["section", "item", "class_name", "lower", "upper", "estimated", "reference",
                 "pixels", "percent", "area_km2"]
# (MapShares.result() key, table item, table section) of each share row.
SHARE_ITEMS = (("percent_above", "percent_above_threshold", "threshold"),
               ("percent_above_low", "percent_above_threshold_low", "threshold"),
               ("percent_above_high", "percent_above_threshold_high", "threshold"),
               ("percent_above_expected", "percent_above_threshold_expected", "threshold"),
               ("percent_inside_aoa", "percent_inside_aoa", "area of applicability"))


def write_statistics_outputs(run, table_path=None, report_path=None, index_path=None):
    """Write the CSV table and the HTML report (naming the index raster at index_path) of a run."""
    if table_path:
        write_table_csv(statistics_table(run), table_path)
    if report_path:
        build_statistics_report(run, index_path).save(report_path)


def _area_km2(frame):
    """The area column in km^2, or NaN when the shares are pixel counts."""
    if "area" in frame.columns:
        return frame["area"].to_numpy(float) / 1e6
    return np.full(len(frame), np.nan)


def share_rows(run):
    """Table rows of the area above THRESHOLD (and its range) and the share inside the AOA."""
    rows = []
    if run.shares is None:
        return rows
    for key, item, section in SHARE_ITEMS:
        value = run.shares[key]
        if value is None:
            continue
        area = value / 100.0 * run.shares["area"] / 1e6 if run.by_area else None
        rows.append({"section": section, "item": item, "percent": value, "area_km2": area,
                     "reference": run.shares["threshold"] if section == "threshold" else None})
    return rows


def statistics_table(run):
    """The CSV table (TABLE_COLUMNS): statistics, content classes and index classes as rows."""
    rows = []
    stats, reference = run.stats, run.reference

    def statistic(section, item, estimated, reference_value=None):
        """Append one statistic row."""
        rows.append({"section": section, "item": item, "estimated": estimated,
                     "reference": reference_value})

    statistic("statistics", "count", stats["count"])
    for key in ("min", "max", "mean", "std"):
        statistic("statistics", key, stats[key], reference[key])
    if stats["area"] is not None:
        statistic("statistics", "area_km2", stats["area"] / 1e6)
    if reference["max"] is not None:
        statistic("statistics", "percent_above_reference_max",
                  stats["percent_above"][reference["max"]], reference["max"])
    if reference["mean"] is not None:
        statistic("statistics", "percent_above_reference_mean",
                  stats["percent_above"][reference["mean"]], reference["mean"])
        statistic("statistics", "ratio_of_means", run.comparison["ratio_of_means"])
    for section, table in (("content classes", run.classes),
                           ("index classes", run.index_classes)):
        if table is None:
            continue
        for row, area in zip(table.to_dict("records"), _area_km2(table)):
            rows.append({"section": section, "item": row["interval"],
                         "class_name": row.get("class_name"), "lower": row["lower"],
                         "upper": row["upper"], "pixels": row["count"],
                         "percent": row["percent"], "area_km2": area})
    rows.extend(share_rows(run))
    if run.index_stats is not None:
        symbol = run.index.symbol
        for key in ("min", "max", "mean", "std"):
            statistic("index statistics", f"{symbol} {key}", run.index_stats[key])
        statistic("index statistics", "background_B", reference["mean"])
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["pixels"] = table["pixels"].astype("Int64")
    return table


def map_thumbnail(run):
    """The content map sample drawn in its classes and the .qml's colours; None without one."""
    if run.thumbnail is None:
        return None
    breaks = run.thumbnail["breaks"]
    colours = classes.colours_for(len(breaks) - 1, classes.CONTENT_COLOURS)
    return map_figure(run.thumbnail["values"], breaks, colours, title=quantity_label(run.name, UNIT),
                      unit=UNIT, extent=run.thumbnail["extent"])


def _index_colours(run):
    """The standard colour of each listed index class (those of the index map's .qml)."""
    palette = classes.IGEO_COLOURS if run.index.kind == "igeo" else classes.CF_COLOURS
    return [palette[int(n)] for n in run.index_classes["class_number"]]


def _histogram_figure(run):
    """The histogram with the class breaks and the reference mean and maximum."""
    histogram = run.histogram
    fig = histogram_figure(histogram["bin_edges"], histogram["counts"],
                           run.stats["class_breaks"], xlabel=quantity_label(run.name, UNIT),
                           ylabel="pixels", title=f"Histogram of {run.name}")
    axes = fig.axes[0]
    for key, colour, label in (("mean", "#2e7d32", "reference mean"),
                               ("max", "#6a1b9a", "reference maximum")):
        value = run.reference[key]
        if value is not None:
            axes.axvline(value, color=colour, linewidth=1.5, label=f"{label} {value:g}")
    if run.stats["class_breaks"]:
        axes.plot([], [], color="#b03a2e", linestyle="--", linewidth=1, label="class breaks")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    return fig


def build_figures(run):
    """The report's figures: histogram with breaks, content class shares, index class shares."""
    figures = {}
    share = "area" if run.by_area else "pixels"
    thumbnail = map_thumbnail(run)
    if thumbnail is not None:
        figures["map"] = thumbnail
    if run.histogram is not None:
        figures["histogram"] = _histogram_figure(run)
    if len(run.classes):
        figures["classes"] = bar_figure(
            run.classes["interval"], run.classes["percent"], xlabel=quantity_label(run.name, UNIT),
            ylabel=f"% of {share}", title=f"Share of {share} per content class")
    if run.index_classes is not None and len(run.index_classes):
        figures["index_classes"] = bar_figure(
            [f"{n}: {label}" for n, label in zip(run.index_classes["class_number"],
                                                 run.index_classes["interval"])],
            run.index_classes["percent"], xlabel=f"{run.index.symbol} class",
            ylabel=f"% of {share}", colours=_index_colours(run),
            title=f"{run.index.title} classes after {run.index.source}")
    return figures


def _table6_frame(run):
    """The paper's Table 6 layout: estimated and reference min, max, mean, std in one row."""
    row = run.comparison
    data = {"": [run.name]}
    for key, label in (("min", "Minimum"), ("max", "Maximum"), ("mean", "Average"),
                       ("std", "Standard deviation")):
        data[f"{label} estimated"] = [row[f"{key}_estimated"]]
        data[f"{label} reference"] = [row[f"{key}_reference"]]
    return pd.DataFrame(data)


def _table7_frame(classes, label, by_area, name_column=None):
    """Class shares laid out like the paper's Table 7: one column per class."""
    columns = list(classes["interval"])
    rows = []
    if name_column is not None:
        rows.append([name_column] + [f"{number}: {name}" for number, name in
                                     zip(classes["class_number"], classes["class_name"])])
    rows.append([f"Percent of {'area' if by_area else 'pixels'} (%)"]
                + [float(v) for v in classes["percent"]])
    if by_area:
        rows.append(["Area (km\u00b2)"] + [float(v) for v in _area_km2(classes)])
    rows.append(["Pixels"] + [int(v) for v in classes["count"]])
    return pd.DataFrame(rows, columns=[label] + columns)


def _share_format(value):
    """Percent or km^2 in a class table: 3 significant digits."""
    return format_number(value, 3)


def _reading(run):
    """Plain sentences comparing the map with its reference values."""
    stats, reference = run.stats, run.reference
    sentences = []
    if reference["mean"] is not None:
        ratio = run.comparison["ratio_of_means"]
        sentences.append(
            f"The mean estimated content, {format_number(stats['mean'])} {UNIT}, is "
            f"{format_number(ratio, 3)} times the reference mean "
            f"({format_number(reference['mean'])} {UNIT}); "
            f"{format_number(stats['percent_above'][reference['mean']], 3)} % of the "
            f"{'area' if run.by_area else 'pixels'} lies above it.")
    if reference["max"] is not None:
        sentences.append(
            f"{format_number(stats['percent_above'][reference['max']], 3)} % of the "
            f"{'area' if run.by_area else 'pixels'} exceed the reference maximum "
            f"({format_number(reference['max'])} {UNIT}); the estimated maximum is "
            f"{format_number(stats['max'])} {UNIT}.")
    return " ".join(sentences)


def _input_section(report, run):
    """The input raster, its size and CRS, the class breaks and the reference values."""
    info, stats, reference = run.info, run.stats, run.reference
    report.heading("Input")
    report.key_values({
        "Raster": run.path, "Band": f"{run.band} ({info.band_names[run.band - 1]})",
        "CRS": raster_io.crs_label(info.crs_wkt),
        "Size (pixels)": f"{info.width} x {info.height}",
        "Valid pixels": stats["count"],
        "Nodata pixels": info.width * info.height - stats["count"],
        "Mapped area (km\u00b2)": stats["area"] / 1e6 if stats["area"] is not None else None,
        "Class breaks": ", ".join(break_label(b) for b in stats["class_breaks"]) or "none",
        "Reference mean / maximum / minimum / std": " / ".join(
            format_number(reference[k]) for k in ("mean", "max", "min", "std"))})
    if bool(info.crs_wkt) and raster_io.is_geographic(info.crs_wkt):
        report.note("The raster is in a geographic CRS: every share of area below weighs each "
                    "pixel by its true area on the ellipsoid, which shrinks towards the poles.")
    elif not run.by_area:
        report.note("The raster has no CRS: shares are shares of pixels, not of area.",
                    "warning")


def _classes_section(report, run, figures):
    """Table 7 of the content classes, their bar chart and the histogram."""
    share = "area" if run.by_area else "pixels"
    report.heading(f"Share of {share} per content class (Table 7)")
    if len(run.classes):
        report.table(_table7_frame(run.classes, quantity_label(run.name, UNIT), run.by_area),
                     float_format=_share_format,
                     caption="Classes [lower, upper); the last class also holds its upper "
                             "break. Rows '<' and '>' appear only when pixels fall there.")
        if "classes" in figures:
            report.figure(figures["classes"], caption=f"Share of {share} per content class")
    else:
        report.paragraph("No class breaks were given.")
    if "histogram" in figures:
        histogram = run.histogram
        caption = (f"Histogram of {run.name}; dashed lines are the class breaks")
        outside = histogram["below"] + histogram["above"]
        if outside:
            caption += (f"; {outside} pixel(s) outside "
                        f"{format_number(histogram['bin_edges'][0])} to "
                        f"{format_number(histogram['bin_edges'][-1])} are not drawn")
        report.figure(figures["histogram"], caption=caption)


def _index_section(report, run, figures, index_path):
    """The pollution index: its formula, statistics and class shares."""
    spec, share = run.index, "area" if run.by_area else "pixels"
    report.heading(f"{spec.title} ({spec.symbol})")
    report.paragraph(
        f"{spec.formula}, with C the mapped content and B = REFERENCE_MEAN = "
        f"{format_number(run.reference['mean'])} {UNIT}. Classes after {spec.source}."
        + (f" Written to {index_path}." if index_path else ""))
    report.table(pd.DataFrame([{
        "Index": spec.symbol, "Minimum": run.index_stats["min"],
        "Maximum": run.index_stats["max"], "Average": run.index_stats["mean"],
        "Standard deviation": run.index_stats["std"]}]), float_format=format_number)
    report.table(_table7_frame(run.index_classes, f"{spec.symbol} class",
                               run.by_area, name_column="Class"),
                 float_format=_share_format,
                 caption=f"Share of {share} per {spec.source} class")
    if "index_classes" in figures:
        report.figure(figures["index_classes"],
                      caption=f"Share of {share} per {spec.symbol} class")
    if run.index_undefined:
        report.note(f"{run.index_undefined} pixel(s) with a content of 0 or less have no "
                    f"{spec.symbol} and are left out of these shares.", "warning")


def build_statistics_report(run, index_path=None):
    """The contentstatistics HTML report of a StatisticsRun -> HtmlReport; index_path is where
    the index raster was written (named in the index section)."""
    if not run.figures:
        run.figures = build_figures(run)
    figures = run.figures
    report = HtmlReport(f"Content statistics of {run.name}")
    _input_section(report, run)
    if "map" in figures:
        report.figure(figures["map"], caption="The content map in the classes of Table 7 "
                      "(thumbnail; the map's .qml style uses the same colours)")

    report.heading("Estimated content against the reference (Table 6)")
    report.table(_table6_frame(run), float_format=format_number,
                 caption=f"Estimated content of the map and the reference values ({UNIT}); "
                         "standard deviation over all valid pixels")
    reading = _reading(run)
    if reading:
        report.paragraph(reading)
    else:
        report.paragraph("Give REFERENCE_MEAN and REFERENCE_MAX (e.g. the regional soil "
                         "background) to compare the map with them.")
    _classes_section(report, run, figures)
    shares_section(report, run)
    if run.index is not None:
        _index_section(report, run, figures, index_path)
    return report


def shares_section(report, run):
    """The report's section on the area above THRESHOLD and the share inside the AOA."""
    shares = run.shares
    if shares is None:
        return
    report.heading("Area above the threshold and area of applicability")
    unit_area = "area" if run.by_area else "pixels"

    def km2(value):
        return (f" ({format_number(value / 100.0 * shares['area'] / 1e6, 3)} km\u00b2)"
                if run.by_area else "")
    if shares["threshold"] is not None:
        t = format_number(shares["threshold"], 3)
        text = (f"{format_number(shares['percent_above'], 3)} % of the {unit_area}"
                f"{km2(shares['percent_above'])} has a mapped content above {t} mg/kg.")
        if shares["interval_from"] == "bounds":
            text += (f" Between {format_number(shares['percent_above_low'], 3)} % (where even the "
                     f"lower bound is above {t}) and {format_number(shares['percent_above_high'], 3)} % "
                     "(where the upper bound is above it) is consistent with the per-pixel intervals "
                     "of LOWER and UPPER; this is the range the pointwise intervals allow, not a "
                     "joint confidence interval of the area.")
        elif shares["interval_from"] == "exceedance":
            text += (f" Between {format_number(shares['percent_above_low'], 3)} % (probability of "
                     f"exceeding >= 0.95) and {format_number(shares['percent_above_high'], 3)} % "
                     "(probability > 0.05), from the EXCEEDANCE map; pointwise, not a joint "
                     "interval of the area.")
        if shares["percent_above_expected"] is not None:
            text += (f" Expected share from the exceedance probabilities: "
                     f"{format_number(shares['percent_above_expected'], 3)} %.")
        report.paragraph(text)
        if shares["interval_from"] is None:
            report.note("This share has no interval: the content map alone cannot say how sure it "
                        "is. Give LOWER and UPPER (predictcontent's OUTPUT_LOWER and OUTPUT_UPPER) "
                        "or EXCEEDANCE (its OUTPUT_EXCEEDANCE for this THRESHOLD) to get one.",
                        "warning")
    if shares["percent_inside_aoa"] is not None:
        inside = shares["percent_inside_aoa"]
        report.paragraph(f"{format_number(inside, 3)} % of the mapped {unit_area} lies inside the "
                         "area of applicability (where the factors resemble those of the samples "
                         "the model was cross-validated on).")
        if inside < 100.0:
            report.note(f"{format_number(100.0 - inside, 3)} % of the map lies outside the area "
                        "of applicability: neither the content nor its interval is known there.",
                        "warning")
