"""contentstatistics' workflow: one block-wise pass over a content map gives the paper's Table 6
(estimated vs reference min/max/mean/std) and Table 7 (share of area per content class), the area
above a threshold and inside the area of applicability, and optionally a geo-accumulation index
or contamination factor raster written block by block through the writer it is handed
-> StatisticsRun. The CSV table and HTML report of a run are core/reports/statistics.py's.

Memory stays bounded whatever the map size: only one block of the map (and of the index) is
held at a time, and every statistic is accumulated (core.science.content_stats.ContentAccumulator).

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

from .. import raster_io
from ..blocks import iter_blocks
from ..errors import SoilMetalError
from ..monitor import NULL_MONITOR
from ..science import classes
from ..science.content_stats import ContentAccumulator, parse_class_breaks, reference_comparison
from ..science.map_shares import AOA_THRESHOLD_KEY, MapShares, aoa_rule, inside_aoa
from ..science.metrics import UNIT
from ..science.pollution_index import IndexSpec, index_spec
from ..text import format_number

# "auto": the content map's legend classes (core.science.classes), so the map and Table 7 agree.
DEFAULT_CLASS_BREAKS = classes.AUTO
HISTOGRAM_BINS = 40
# Share of valid pixels outside the class-break range above which the histogram gets a
# second pass over the data range.
OUT_OF_RANGE_SHARE = 0.005
# Share of the progress bar the main pass takes; the optional histogram pass gets the rest.
MAIN_PASS_PROGRESS = 90.0
# Pixels of the map sample behind the report's thumbnail.
THUMBNAIL_PIXELS = 250_000


@dataclass
class StatisticsRun:
    """Everything a contentstatistics run computed; its report adds the figures."""

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
    shares: Optional[dict] = None   # core.science.map_shares.MapShares.result(): THRESHOLD and AOA
    thumbnail: Optional[dict] = None   # values (a map sample), breaks, extent; None without classes
    figures: dict = field(default_factory=dict)   # filled by core.reports.statistics

    @property
    def percent_above_reference_max(self):
        """Share (%) of the area above REFERENCE_MAX, or None when it was not given."""
        value = self.reference.get("max")
        return None if value is None else self.stats["percent_above"][float(value)]


def index_raster(path):
    """The index_writer of run_content_statistics that writes a GeoTIFF at `path` (the run's staged
    OUTPUT_INDEX) on the content map's grid; None when no path is given."""
    if not path:
        return None

    def open_writer(info, band_names):
        """A raster_io.RasterWriter on the grid of `info`: deleted when the run fails inside it."""
        return raster_io.RasterWriter(path, info.width, info.height, info.geotransform, info.crs_wkt,
                                      band_names)
    return open_writer


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


def _optional_threshold(value):
    """THRESHOLD as a finite float (mg/kg), None when not given; an error that names the fix."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SoilMetalError(f"THRESHOLD must be a number in mg/kg (e.g. a guideline value such as "
                             f"100), not {value!r}.") from None
    if not np.isfinite(number):
        raise SoilMetalError("THRESHOLD must be a finite number in mg/kg (e.g. 100).")
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


def map_content_breaks(path, band=1, count=classes.CONTENT_CLASSES):
    """The "auto" content classes of a raster file: what its legend and Table 7 both use."""
    return classes.content_breaks(raster_io.read_band_sample(path, band), count)


def is_auto(class_breaks):
    """True when the class breaks say "auto" (the content map's legend classes)."""
    return isinstance(class_breaks, str) and class_breaks.strip().lower() == classes.AUTO


def _references(reference_mean, reference_max, reference_min, reference_std, index_writer):
    """The reference values checked -> {mean, max, min, std}; an index raster needs the mean."""
    reference = {"mean": _optional_number(reference_mean, "REFERENCE_MEAN", positive=True),
                 "max": _optional_number(reference_max, "REFERENCE_MAX"),
                 "min": _optional_number(reference_min, "REFERENCE_MIN"),
                 "std": _optional_number(reference_std, "REFERENCE_STD")}
    if index_writer is not None and reference["mean"] is None:
        raise SoilMetalError(
            "An index raster (OUTPUT_INDEX) was asked for, but REFERENCE_MEAN is empty: the "
            "index compares the content with a background value B. Set REFERENCE_MEAN to the "
            "background content in mg/kg (e.g. 21.4 for Cu in Shaanxi), or leave OUTPUT_INDEX "
            "empty.")
    return reference


def run_content_statistics(path, band=1, class_breaks=DEFAULT_CLASS_BREAKS, reference_mean=None,
                           reference_max=None, reference_min=None, reference_std=None,
                           index="igeo", index_writer=None, layer_name=None, monitor=NULL_MONITOR,
                           block_size=1024, histogram_bins=HISTOGRAM_BINS, threshold=None,
                           lower_path=None, upper_path=None, exceedance_path=None, aoa_path=None):
    """Statistics of band `band` of a content raster, block by block -> StatisticsRun.

    The index is computed, and its classes reported, whenever reference_mean is given; it is
    written block by block through index_writer (index_raster(path)) when one is handed, which
    needs reference_mean. threshold (mg/kg) gives the area above it, with a range from
    lower_path/upper_path or exceedance_path; aoa_path the share inside the area of
    applicability (core.science.map_shares).
    """
    breaks = [] if is_auto(class_breaks) else parse_class_breaks(class_breaks)
    reference = _references(reference_mean, reference_max, reference_min, reference_std, index_writer)
    spec = index_spec(index) if reference["mean"] is not None else None
    info = raster_io.raster_info(path, layer_name)
    band = int(band)
    if not 1 <= band <= info.band_count:
        raise SoilMetalError(f"Raster '{path}' has {info.band_count} band(s); BAND {band} does "
                             "not exist. Choose the band that holds the content.")
    if is_auto(class_breaks):  # given breaks were parsed (and checked) before the raster opened
        breaks = map_content_breaks(path, band)
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
        if index_writer is not None:
            writer = index_writer(
                info, [f"{spec.symbol} {name} (B = {format_number(reference['mean'])} {UNIT})"])
        with writer as index_out:
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
                    if index_out is not None:
                        index_out.write(0, window, index_values)
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
                        index_stats=index_stats, index_undefined=index_undefined,
                        shares=shares.result() if shares is not None else None)
    if spec is not None:
        run.index_classes = spec.named_classes(index_stats["classes"])
        if index_undefined:
            monitor.warning(f"{index_undefined} pixel(s) with a content of 0 or less have no "
                            f"{spec.symbol} (nodata in the index).")
    _log_summary(run, monitor)
    run.thumbnail = _thumbnail(run)
    return run


def _companions(info, threshold, lower_path, upper_path, exceedance_path, aoa_path):
    """Check the THRESHOLD / bounds / exceedance / AOA inputs -> ({kind: path, "aoa_rule": rule},
    MapShares or None); every companion must be on the content map's grid."""
    threshold = _optional_threshold(threshold)
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


def _thumbnail(run):
    """A sample of the map in its classes (those of Table 7, or the legend's "auto" classes when
    no breaks were given), for the report's thumbnail; None for a map without valid pixels."""
    values = raster_io.read_band_sample(run.path, run.band, THUMBNAIL_PIXELS)
    breaks = list(run.stats["class_breaks"]) or classes.content_breaks(values)
    if len(breaks) < 2 or not np.isfinite(values).any():
        return None
    x0, dx, _, y0, _, dy = run.info.geotransform
    extent = (x0, x0 + dx * run.info.width, y0 + dy * run.info.height, y0)
    return {"values": values, "breaks": breaks, "extent": extent}
