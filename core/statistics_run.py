"""contentstatistics end to end: one block-wise pass over a content map gives the paper's
Table 6 (estimated vs reference min/max/mean/std) and Table 7 (share of area per content
class), optionally a geo-accumulation index or contamination factor raster written block by
block, then a CSV table and an HTML report with figures.

Memory stays bounded whatever the map size: only one block of the map (and of the index) is
held at a time, and every statistic is accumulated (core.content_stats.ContentAccumulator).

The histogram's bins are fixed before the pass (over the class breaks' range). When more
than ``OUT_OF_RANGE_SHARE`` of the pixels fall outside that range, or there are no breaks, a
second, read-only pass draws the histogram over the whole data range, so the figure never
hides a large part of the map.

Shares of area: each pixel weighs its area in m^2 (``raster_io.pixel_size_metres``), which
in a geographic CRS changes from row to row; in a projected CRS it is the same for every
pixel, so shares of area equal shares of pixels. A raster without a CRS is counted in pixels.
"""

import contextlib
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from . import classes, raster_io
from .blocks import iter_blocks
from .science.content_stats import (
    CF_CLASS_BREAKS,
    CF_CLASS_NAMES,
    IGEO_CLASS_BREAKS,
    IGEO_CLASS_NAMES,
    ContentAccumulator,
    break_label,
    contamination_factor,
    geoaccumulation_index,
    parse_class_breaks,
    reference_comparison,
)
from .errors import SoilMetalError
from .map_shares import (AOA_THRESHOLD_KEY, MapShares, aoa_rule, check_threshold, inside_aoa,
                         share_rows, shares_section)
from .monitor import NULL_MONITOR
from .reports.html import HtmlReport, write_table_csv
from .text import format_number
from .reports.figures import bar_figure, histogram_figure, map_figure, quantity_label
from .science.metrics import UNIT

# "auto": the content map's legend classes (core.classes), so the map and Table 7 agree.
DEFAULT_CLASS_BREAKS = classes.AUTO
HISTOGRAM_BINS = 40
# Share of valid pixels outside the class-break range above which the histogram gets a
# second pass over the data range.
OUT_OF_RANGE_SHARE = 0.005
# Share of the progress bar the main pass takes; the optional histogram pass gets the rest.
MAIN_PASS_PROGRESS = 90.0


@dataclass(frozen=True)
class IndexSpec:
    """A pollution index of content C against a background B."""

    kind: str
    symbol: str
    title: str
    formula: str
    breaks: tuple
    class_names: tuple
    source: str

    def compute(self, content, background):
        """The index of a content block (any shape), NaN where undefined."""
        if self.kind == "igeo":
            return geoaccumulation_index(content, background)
        return contamination_factor(content, background)


INDEX_SPECS = (
    IndexSpec("igeo", "Igeo", "Geo-accumulation index", "Igeo = log2(C / (1.5 B))",
              IGEO_CLASS_BREAKS, IGEO_CLASS_NAMES, "M\u00fcller (1969)"),
    IndexSpec("cf", "CF", "Contamination factor", "CF = C / B",
              CF_CLASS_BREAKS, CF_CLASS_NAMES, "Hakanson (1980)"),
)
INDEX_KINDS = tuple(spec.kind for spec in INDEX_SPECS)
INDEX_LABELS = tuple(f"{spec.title} {spec.formula} ({spec.source} classes)"
                     for spec in INDEX_SPECS)

TABLE_COLUMNS = ["section", "item", "class_name", "lower", "upper", "estimated", "reference",
                 "pixels", "percent", "area_km2"]


def index_spec(index):
    """The IndexSpec of a kind name ('igeo', 'cf') or a Processing enum index."""
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        if 0 <= int(index) < len(INDEX_SPECS):
            return INDEX_SPECS[int(index)]
    elif isinstance(index, str):
        for spec in INDEX_SPECS:
            if index.strip().lower() == spec.kind:
                return spec
    raise SoilMetalError(f"Unknown index {index!r}: choose 0 (geo-accumulation index) or 1 "
                         "(contamination factor).")


@dataclass
class StatisticsRun:
    """Everything a contentstatistics run computed, plus its figures."""

    name: str                   # what the map holds, e.g. 'Cu'
    path: str
    band: int
    info: object                # raster_io.RasterInfo
    stats: dict                 # ContentAccumulator.result() of the content
    comparison: dict            # the Table 6 row (content_stats.TABLE6_COLUMNS)
    classes: pd.DataFrame       # Table 7 rows: interval, lower, upper, count, percent(, area)
    histogram: Optional[dict]   # bin_edges, counts, below, above
    by_area: bool               # shares weighted by pixel area in m^2 (else by pixel count)
    reference: dict             # mean, max, min, std given (None when not)
    index: Optional[IndexSpec] = None
    index_stats: Optional[dict] = None
    index_classes: Optional[pd.DataFrame] = None
    index_undefined: int = 0    # valid content pixels where the index is undefined
    index_path: Optional[str] = None
    shares: Optional[dict] = None   # core.map_shares.MapShares.result(): THRESHOLD and AOA
    figures: dict = field(default_factory=dict)

    @property
    def percent_above_reference_max(self):
        """Share (%) of the area above REFERENCE_MAX, or None when it was not given."""
        value = self.reference.get("max")
        return None if value is None else self.stats["percent_above"][float(value)]


def _optional_number(value, name, positive=False):
    """None, or the value as a finite float (> 0 when positive), else a SoilMetalError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or (positive and number <= 0):
        need = "a positive number" if positive else "a number"
        raise SoilMetalError(f"{name} must be {need} in {UNIT}, got {value!r}. Leave it empty "
                             "when you have no reference value.")
    return number


def content_name(band_name):
    """What a content band holds: 'Cu (mg/kg)' -> 'Cu'; other descriptions as they are."""
    text = str(band_name).strip()
    suffix = f"({UNIT})"
    if text.endswith(suffix):
        text = text[: -len(suffix)].strip()
    return text or "content"


def _row_areas(info):
    """Pixel area in m^2 for each row (height,), or None for a raster without a CRS."""
    if not info.crs_wkt:
        return None
    dx, dy = raster_io.pixel_size_metres(info)
    return np.asarray(dx, dtype=np.float64) * np.asarray(dy, dtype=np.float64)


def _with_class_names(classes, spec):
    """Add a class_name column (and the class number) to an index class table."""
    classes = classes.copy()
    numbers = []
    for lower in classes["lower"]:
        numbers.append(0 if lower == -math.inf else list(spec.breaks).index(lower) + 1)
    classes.insert(1, "class_number", numbers)
    classes.insert(2, "class_name", [spec.class_names[n] for n in numbers])
    return classes


def is_auto(class_breaks):
    """True when the class breaks say "auto" (the content map's legend classes)."""
    return isinstance(class_breaks, str) and class_breaks.strip().lower() == classes.AUTO


def resolve_class_breaks(class_breaks, path, band=1):
    """The class breaks of a run: "auto" -> the map's legend classes, else the given breaks."""
    if is_auto(class_breaks):
        return classes.map_content_breaks(path, int(band))
    return parse_class_breaks(class_breaks)


def run_content_statistics(path, band=1, class_breaks=DEFAULT_CLASS_BREAKS, reference_mean=None,
                           reference_max=None, reference_min=None, reference_std=None,
                           index="igeo", index_path=None, table_path=None, report_path=None,
                           layer_name=None, monitor=NULL_MONITOR, block_size=1024,
                           histogram_bins=HISTOGRAM_BINS, threshold=None, lower_path=None,
                           upper_path=None, exceedance_path=None, aoa_path=None):
    """Statistics of band `band` of a content raster, block by block -> StatisticsRun.

    Writes the index raster (when index_path), the CSV (table_path) and the HTML report
    (report_path). The index is computed, and its classes reported, whenever reference_mean
    is given; index_path without reference_mean is an error. threshold (mg/kg) gives the area
    above it, with a range from lower_path/upper_path or exceedance_path; aoa_path the share
    inside the area of applicability (core.map_shares).
    """
    breaks = [] if is_auto(class_breaks) else parse_class_breaks(class_breaks)
    reference = {"mean": _optional_number(reference_mean, "REFERENCE_MEAN", positive=True),
                 "max": _optional_number(reference_max, "REFERENCE_MAX"),
                 "min": _optional_number(reference_min, "REFERENCE_MIN"),
                 "std": _optional_number(reference_std, "REFERENCE_STD")}
    if index_path and reference["mean"] is None:
        raise SoilMetalError(
            "An index raster (OUTPUT_INDEX) was asked for, but REFERENCE_MEAN is empty: the "
            "index compares the content with a background value B. Set REFERENCE_MEAN to the "
            "background content in mg/kg (e.g. 21.4 for Cu in Shaanxi), or leave OUTPUT_INDEX "
            "empty.")
    spec = index_spec(index) if reference["mean"] is not None else None
    info = raster_io.raster_info(path, layer_name)
    band = int(band)
    if not 1 <= band <= info.band_count:
        raise SoilMetalError(f"Raster '{path}' has {info.band_count} band(s); BAND {band} does "
                             "not exist. Choose the band that holds the content.")
    if is_auto(class_breaks):
        breaks = resolve_class_breaks(class_breaks, path, band)
    name = content_name(info.band_names[band - 1])
    companions, shares = _companions(info, threshold, lower_path, upper_path, exceedance_path,
                                     aoa_path)
    row_areas = _row_areas(info)
    thresholds = [t for t in (reference["max"], reference["mean"]) if t is not None]
    content = ContentAccumulator(breaks, histogram_bins, thresholds=thresholds)
    index_acc = ContentAccumulator(spec.breaks, keep_open_classes=True) if spec else None
    index_undefined = 0

    monitor.info(f"Statistics of '{name}' (band {band} of {raster_io.layer_stem(path)}, "
                 f"{info.width} x {info.height} pixels).")
    with contextlib.ExitStack() as stack:
        readers = {kind: stack.enter_context(raster_io.RasterReader(companion))
                   for kind, companion in companions.items() if kind != "aoa_rule"}
        reader = stack.enter_context(raster_io.RasterReader(path))
        writer = contextlib.nullcontext()
        if index_path:
            writer = raster_io.RasterWriter(
                index_path, info.width, info.height, info.geotransform, info.crs_wkt,
                [f"{spec.symbol} {name} (B = {format_number(reference['mean'])} {UNIT})"])
        with writer as index_writer:
            for window in iter_blocks(info.width, info.height,
                                      monitor.child(0, MAIN_PASS_PROGRESS), block_size):
                values = reader.read([band], window)[0]
                area = None
                if row_areas is not None:
                    area = row_areas[window.yoff:window.yoff + window.ysize, None]
                content.update(values, pixel_area=area)
                if shares is not None:
                    blocks = {kind: companion.read([1], window)[0] for kind, companion in readers.items()}
                    aoa = blocks.pop("aoa", None)
                    shares.update(values, area, aoa_inside=None if aoa is None else
                                  inside_aoa(aoa, companions["aoa_rule"]), **blocks)
                if spec is not None:
                    index_values = spec.compute(values, reference["mean"])
                    index_undefined += int((np.isfinite(values)
                                            & ~np.isfinite(index_values)).sum())
                    index_acc.update(index_values, pixel_area=area)
                    if index_writer is not None:
                        index_writer.write(0, window, index_values)
            # Still inside the writer's block: a map with no valid pixel leaves no index file.
            stats = content.result()
            index_stats = None
            if spec is not None:
                if index_acc.count == 0:
                    raise SoilMetalError(
                        f"The {spec.title.lower()} is undefined at every pixel (it needs a "
                        "content above 0). Check that the input is a content map in mg/kg.")
                index_stats = index_acc.result()

    histogram = stats["histogram"]
    outside = stats["count"] if histogram is None else histogram["below"] + histogram["above"]
    if outside > OUT_OF_RANGE_SHARE * stats["count"]:
        histogram = _full_range_histogram(path, band, info, stats, breaks, histogram_bins,
                                          monitor.child(MAIN_PASS_PROGRESS, 100), block_size)
    monitor.set_progress(100)

    comparison = reference_comparison(stats, reference["mean"], reference["max"],
                                      reference["min"], reference["std"], name=name)
    run = StatisticsRun(name=name, path=str(path), band=band, info=info, stats=stats,
                        comparison=comparison, classes=stats["classes"], histogram=histogram,
                        by_area=row_areas is not None, reference=reference, index=spec,
                        index_stats=index_stats, index_path=index_path or None,
                        index_undefined=index_undefined,
                        shares=shares.result() if shares is not None else None)
    if spec is not None:
        run.index_classes = _with_class_names(index_stats["classes"], spec)
        if index_undefined:
            monitor.warning(f"{index_undefined} pixel(s) with a content of 0 or less have no "
                            f"{spec.symbol} (nodata in the index).")
    _log_summary(run, monitor)
    run.figures = build_figures(run)
    if table_path:
        write_table_csv(statistics_table(run), table_path)
    if report_path:
        build_statistics_report(run).save(report_path)
    return run


def _companions(info, threshold, lower_path, upper_path, exceedance_path, aoa_path):
    """Check the THRESHOLD / bounds / exceedance / AOA inputs -> ({kind: path, "aoa_rule": rule},
    MapShares or None); every companion must be on the content map's grid."""
    threshold = check_threshold(threshold)
    if bool(lower_path) != bool(upper_path):
        raise SoilMetalError("LOWER and UPPER go together: give both bound maps (predictcontent's "
                             "OUTPUT_LOWER and OUTPUT_UPPER) or neither.")
    if (lower_path or exceedance_path) and threshold is None:
        raise SoilMetalError("LOWER/UPPER and EXCEEDANCE give the interval of the area above "
                             "THRESHOLD: set THRESHOLD (mg/kg), or leave them empty.")
    companions = {kind: str(p) for kind, p in (("lower", lower_path), ("upper", upper_path),
                                               ("exceedance", exceedance_path), ("aoa", aoa_path)) if p}
    for kind, companion in companions.items():
        if not raster_io.raster_info(companion).same_grid(info):
            raise SoilMetalError(
                f"The {kind.upper()} raster '{companion}' is not on the grid of the content map "
                "(size, pixel size, origin and CRS must match): give the raster predictcontent "
                "wrote with this content map.")
    if aoa_path:
        companions["aoa_rule"] = aoa_rule(
            raster_io.band_metadata_item(aoa_path, 1, AOA_THRESHOLD_KEY),
            raster_io.read_band_sample(aoa_path, 1))
    if threshold is None and not aoa_path:
        return companions, None
    return companions, MapShares(threshold, with_bounds=bool(lower_path),
                                 with_exceedance=bool(exceedance_path), with_aoa=bool(aoa_path))


def _full_range_histogram(path, band, info, stats, breaks, bins, monitor, block_size):
    """A second, read-only pass: the histogram over the data range joined with the breaks."""
    low, high = stats["min"], stats["max"]
    if breaks:
        low, high = min(low, breaks[0]), max(high, breaks[-1])
    accumulator = ContentAccumulator(histogram_bins=bins, histogram_range=(low, high))
    with raster_io.RasterReader(path) as reader:
        for window in iter_blocks(info.width, info.height, monitor, block_size):
            accumulator.update(reader.read([band], window)[0])
    return accumulator.result()["histogram"]


def _log_summary(run, monitor):
    """The headline numbers in the Processing log."""
    stats = run.stats
    monitor.info(f"{run.name}: {stats['count']} valid pixels, min {format_number(stats['min'])}, "
                 f"max {format_number(stats['max'])}, mean {format_number(stats['mean'])}, "
                 f"std {format_number(stats['std'])} {UNIT}.")
    above = run.percent_above_reference_max
    if above is not None:
        monitor.info(f"{format_number(above, 3)} % of the area is above the reference maximum "
                     f"{format_number(run.reference['max'])} {UNIT}.")


def _area_km2(frame):
    """The area column in km^2, or NaN when the shares are pixel counts."""
    if "area" in frame.columns:
        return frame["area"].to_numpy(float) / 1e6
    return np.full(len(frame), np.nan)


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


THUMBNAIL_PIXELS = 250_000


def map_thumbnail(run):
    """The content map drawn in its classes (those of Table 7, or the legend's "auto" classes
    when no breaks were given) and the .qml's colours; None for a map without valid pixels."""
    values = raster_io.read_band_sample(run.path, run.band, THUMBNAIL_PIXELS)
    breaks = list(run.stats["class_breaks"]) or classes.content_breaks(values)
    if len(breaks) < 2 or not np.isfinite(values).any():
        return None
    x0, dx, _, y0, _, dy = run.info.geotransform
    extent = (x0, x0 + dx * run.info.width, y0 + dy * run.info.height, y0)
    colours = classes.colours_for(len(breaks) - 1, classes.CONTENT_COLOURS)
    return map_figure(values, breaks, colours, title=quantity_label(run.name, UNIT),
                      unit=UNIT, extent=extent)


def _index_colours(run):
    """The standard colour of each listed index class (those of the index map's .qml)."""
    palette = classes.IGEO_COLOURS if run.index.kind == "igeo" else classes.CF_COLOURS
    return [palette[int(n)] for n in run.index_classes["class_number"]]


def build_figures(run):
    """The report's figures: histogram with breaks, content class shares, index class shares."""
    figures = {}
    share = "area" if run.by_area else "pixels"
    thumbnail = map_thumbnail(run)
    if thumbnail is not None:
        figures["map"] = thumbnail
    if run.histogram is not None:
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
        figures["histogram"] = fig
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


def build_statistics_report(run):
    """The contentstatistics HTML report of a StatisticsRun -> HtmlReport."""
    info, stats, reference = run.info, run.stats, run.reference
    figures = run.figures or build_figures(run)
    report = HtmlReport(f"Content statistics of {run.name}")
    share = "area" if run.by_area else "pixels"
    geographic = bool(info.crs_wkt) and raster_io.is_geographic(info.crs_wkt)
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
    if geographic:
        report.note("The raster is in a geographic CRS: every share of area below weighs each "
                    "pixel by its true area on the ellipsoid, which shrinks towards the poles.")
    elif not run.by_area:
        report.note("The raster has no CRS: shares are shares of pixels, not of area.",
                    "warning")

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

    shares_section(report, run)

    if run.index is not None:
        spec = run.index
        report.heading(f"{spec.title} ({spec.symbol})")
        report.paragraph(
            f"{spec.formula}, with C the mapped content and B = REFERENCE_MEAN = "
            f"{format_number(reference['mean'])} {UNIT}. Classes after {spec.source}."
            + (f" Written to {run.index_path}." if run.index_path else ""))
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
    return report
