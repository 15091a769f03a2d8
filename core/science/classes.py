"""Map classes in one place: the content map's legend, contentstatistics' Table 7, and the
standard classes of the pollution indices (Muller's Igeo 0-6, Hakanson's CF), with their colours.

The style sidecars (styles/rasters.py) and the statistics (core/workflows/statistics.py) both
take their classes from here, so a content map opens in QGIS with the same classes that Table 7
of its statistics report counts. Arrays in, breaks out: reading a raster file's sample is the
workflow's part (core.workflows.statistics.map_content_breaks).

Content classes ("auto"): round breaks (steps of 1, 2, 2.5 or 5 x 10^k) over the map's range,
about ``CONTENT_CLASSES`` classes. The range is the 1-99 % percentile range of the map's valid
pixels, read at most ``SAMPLE_PIXELS`` at a time (a regular subsample of a larger map), so one
extreme pixel does not squeeze every other pixel into one class. Pixels outside the breaks fall
in an open class below or above (the legend's first and last classes are open).
"""

import math

import numpy as np

from ..text import format_number

AUTO = "auto"
CONTENT_CLASSES = 8
RANGE_PERCENTILES = (1.0, 99.0)

# Low content green, background yellow, contaminated red to purple: the usual reading of a
# contamination map. Spread and interval-width maps use a neutral white-to-blue ramp.
CONTENT_COLOURS = ("#1a9850", "#a6d96a", "#ffffbf", "#fdae61", "#d73027", "#7b1f5e")
SPREAD_COLOURS = ("#f7fbff", "#9ecae1", "#2171b5", "#08306b")
PROBABILITY_COLOURS = ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026")
DIVERGING_COLOURS = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")

# Muller (1969) geo-accumulation classes: Igeo <= 0 is class 0, (0, 1] class 1, ..., > 5 class 6.
IGEO_CLASS_BREAKS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
IGEO_CLASS_NAMES = ("unpolluted", "unpolluted to moderately polluted", "moderately polluted",
                    "moderately to heavily polluted", "heavily polluted",
                    "heavily to extremely polluted", "extremely polluted")
IGEO_COLOURS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027", "#7b1f5e")
# Hakanson (1980) contamination factor classes (< 1, 1-3, 3-6, >= 6).
CF_CLASS_BREAKS = (1.0, 3.0, 6.0)
CF_CLASS_NAMES = ("low", "moderate", "considerable", "very high")
CF_COLOURS = ("#1a9850", "#fee08b", "#fc8d59", "#d73027")
# Exceedance probability classes (0-1).
PROBABILITY_BREAKS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def nice_breaks(low, high, classes=CONTENT_CLASSES):
    """About `classes` + 1 round class breaks (steps of 1, 2, 2.5 or 5 x 10^k) covering [low, high]."""
    low, high = float(low), float(high)
    if not high > low:
        high = low + 1.0
    raw = (high - low) / max(classes, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    count = max(1, math.ceil((high - start) / step - 1e-9))
    # Rounded to the step's decimals so that 0.1 + 0.2 prints as 0.3.
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return [round(start + i * step, decimals) for i in range(count + 1)]


def value_range(values, percentiles=RANGE_PERCENTILES):
    """The percentile range (low, high) of the finite values; None when there are none."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = np.percentile(values, percentiles)
    return float(low), float(high)


def content_breaks(values, classes=CONTENT_CLASSES):
    """The content classes ("auto") of a map's values (NaN = nodata) -> increasing breaks, or []."""
    found = value_range(values)
    return [] if found is None else nice_breaks(found[0], found[1], classes)


def colours_for(count, colours):
    """`count` colours (hex) evenly spread along the ramp through `colours`."""
    if count <= 1:
        return [colours[0]]
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=float)
    positions = np.linspace(0.0, 1.0, len(colours))
    result = []
    for t in np.linspace(0.0, 1.0, count):
        channel = [int(round(np.interp(t, positions, rgb[:, k]))) for k in range(3)]
        result.append("#{:02x}{:02x}{:02x}".format(*channel))
    return result


def break_text(value):
    """A class break as a legend shows it: at most three significant digits, no exponent."""
    return format_number(float(value), 3)
