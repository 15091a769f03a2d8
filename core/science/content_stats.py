"""Statistics of a content map of any size (paper Tables 6 and 7), accumulated block by block
(the pollution indices over it are in core/science/pollution_index.py).

Moments: each block's count, mean and sum of squared deviations (float64) are merged with
Chan et al.'s parallel update, so the result equals a one-shot computation on the whole map
to rounding error and never suffers the cancellation of sum(x^2) - n mean^2. ``std`` is the
population standard deviation (ddof = 0): the map is the whole population of pixels.

Classes: intervals [b0, b1), [b1, b2), ..., [b(m-1), bm], the last one closed so the map
maximum sitting on the last break is counted inside. Values below b0 and above bm get rows
"< b0" and "> bm", only when some pixel falls there.

Histogram: one pass cannot know the map's range, so the bins are fixed up front: over
``histogram_range`` when given (e.g. min/max from an earlier pass), else over the class
breaks range [b0, bm]. There the bin count is the smallest one >= ``histogram_bins`` whose
edges fall on every break (0,30,50,70,90,110 -> 44 bins of 2.5), so the histogram splits
exactly at the class lines; when no such count up to 4 x ``histogram_bins`` exists, plain
``histogram_bins`` equal bins are used. Pixels outside the range are counted in ``below`` /
``above``. Without breaks or a range there is no histogram (``None``).

Area: pass ``pixel_area`` (scalar or an array broadcastable to the block, e.g. per row in a
geographic CRS) to get class percentages and exceedance shares by area. Without it they
are pixel shares, which is the same in a projected CRS. Min/max/mean/std are always per
pixel, as in the paper.
"""

import math

import numpy as np
import pandas as pd

from ..errors import SoilMetalError

DEFAULT_HISTOGRAM_BINS = 40
CLASS_COLUMNS = ["interval", "lower", "upper", "count", "percent"]


def parse_class_breaks(text):
    """Class breaks from "0,30,50" (or a sequence) -> list of increasing floats; [] if blank."""
    if text is None:
        return []
    if isinstance(text, str):
        items = [item.strip() for item in text.replace(";", ",").split(",")]
        if all(not item for item in items):
            return []
    else:
        items = list(text)
    breaks = []
    for item in items:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise SoilMetalError(
                f"Class break {str(item)!r} is not a number: give increasing numbers "
                f"separated by commas, e.g. 0,30,50,70,90,110.") from None
        if not math.isfinite(value):
            raise SoilMetalError(f"Class break {str(item)!r} is not a finite number: give "
                                 f"increasing numbers separated by commas.")
        breaks.append(value)
    if len(breaks) < 2:
        raise SoilMetalError(
            f"At least two class breaks are needed to make a class, got {len(breaks)}: "
            f"e.g. 0,30,50,70,90,110.")
    for previous, current in zip(breaks, breaks[1:]):
        if current <= previous:
            raise SoilMetalError(
                f"Class breaks must increase strictly, but {current:g} follows {previous:g}: "
                f"list them from the lowest to the highest without repeats.")
    return breaks


def break_label(value):
    """A class break as text: 30.0 -> "30", 2.5 -> "2.5"."""
    return f"{float(value):g}"


def interval_label(lower, upper):
    """Class label "0-30"; " to " instead of "-" when a bound is negative."""
    separator = " to " if lower < 0 or upper < 0 else "-"
    return f"{break_label(lower)}{separator}{break_label(upper)}"


def aligned_histogram_edges(breaks, target_bins=DEFAULT_HISTOGRAM_BINS):
    """Equal bin edges (m+1,) spanning the breaks, m >= target_bins, on every break if possible."""
    breaks = np.asarray(breaks, dtype=float)
    lower, upper = float(breaks[0]), float(breaks[-1])
    span = upper - lower
    offsets = (breaks - lower) / span
    chosen = target_bins
    for bins in range(target_bins, 4 * target_bins + 1):
        positions = offsets * bins
        if np.all(np.abs(positions - np.round(positions)) < 1e-6):
            chosen = bins
            break
    edges = lower + span * np.arange(chosen + 1) / chosen
    edges[-1] = upper
    return edges


class ContentAccumulator:
    """Running statistics of a content map fed block by block (NaN = nodata)."""

    def __init__(self, class_breaks=(), histogram_bins=DEFAULT_HISTOGRAM_BINS,
                 histogram_range=None, thresholds=(), keep_open_classes=False):
        """Breaks (list, may be empty); histogram bins/range; thresholds for exceedance shares;
        keep_open_classes: list the classes below the first and above the last break even when
        empty (an index's standard classes are all shown, e.g. Igeo class 6 at 0 %)."""
        self.keep_open_classes = keep_open_classes
        self.class_breaks = (parse_class_breaks(class_breaks)
                             if class_breaks is not None and len(class_breaks) else [])
        self._breaks = np.asarray(self.class_breaks, dtype=float)
        if histogram_range is not None:
            low, high = (float(v) for v in histogram_range)
            if not (math.isfinite(low) and math.isfinite(high)):
                raise SoilMetalError(f"The histogram range ({low}, {high}) must be finite.")
            if high <= low:
                # A constant map: widen so the single value sits inside one bin.
                low, high = low - 0.5, low + 0.5
            self.bin_edges = np.linspace(low, high, int(histogram_bins) + 1)
        elif len(self.class_breaks) >= 2:
            self.bin_edges = aligned_histogram_edges(self._breaks, int(histogram_bins))
        else:
            self.bin_edges = None
        self.thresholds = [float(t) for t in thresholds if t is not None]
        self._count = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._min = math.inf
        self._max = -math.inf
        self._weighted = None
        self._total_weight = 0.0
        n_classes = len(self._breaks) + 1
        self._class_counts = np.zeros(n_classes, dtype=np.int64)
        self._class_weights = np.zeros(n_classes)
        if self.bin_edges is not None:
            self._hist = np.zeros(len(self.bin_edges) - 1, dtype=np.int64)
            self._hist_below = 0
            self._hist_above = 0
        self._above_weights = np.zeros(len(self.thresholds))

    def update(self, values, pixel_area=None):
        """Add a block of content (any shape, NaN = nodata); pixel_area scalar or broadcastable."""
        values = np.asarray(values, dtype=np.float64)
        weighted = pixel_area is not None
        if self._weighted is None:
            self._weighted = weighted
        elif self._weighted != weighted:
            raise ValueError("pass pixel_area to every update or to none")
        valid = np.isfinite(values)
        data = values[valid]
        if weighted:
            weights = np.broadcast_to(np.asarray(pixel_area, dtype=np.float64),
                                      values.shape)[valid]
        else:
            weights = np.ones(data.shape)
        n_block = data.size
        if n_block == 0:
            return
        block_mean = float(data.mean())
        block_m2 = float(((data - block_mean) ** 2).sum())
        total = self._count + n_block
        delta = block_mean - self._mean
        # Chan et al. (1979) merge of two sets of moments.
        self._mean += delta * n_block / total
        self._m2 += block_m2 + delta * delta * self._count * n_block / total
        self._count = total
        self._min = min(self._min, float(data.min()))
        self._max = max(self._max, float(data.max()))
        self._total_weight += float(weights.sum())

        if len(self._breaks):
            index = np.searchsorted(self._breaks, data, side="right")
            index[data == self._breaks[-1]] = len(self._breaks) - 1
            n_classes = len(self._breaks) + 1
            self._class_counts += np.bincount(index, minlength=n_classes)
            self._class_weights += np.bincount(index, weights=weights, minlength=n_classes)
        if self.bin_edges is not None:
            low, high = self.bin_edges[0], self.bin_edges[-1]
            inside = (data >= low) & (data <= high)
            self._hist_below += int((data < low).sum())
            self._hist_above += int((data > high).sum())
            bins = np.searchsorted(self.bin_edges, data[inside], side="right") - 1
            bins = np.minimum(bins, len(self._hist) - 1)
            self._hist += np.bincount(bins, minlength=len(self._hist))
        for i, threshold in enumerate(self.thresholds):
            self._above_weights[i] += float(weights[data > threshold].sum())

    @property
    def count(self):
        """Valid pixels seen so far."""
        return self._count

    def result(self):
        """Dict: count, min, max, mean, std, area, classes (DataFrame), histogram, percent_above."""
        if self._count == 0:
            raise SoilMetalError(
                "The content raster has no valid pixel (all nodata): check the input raster "
                "and its nodata value.")
        out = {"count": self._count, "min": self._min, "max": self._max,
               "mean": self._mean, "std": math.sqrt(self._m2 / self._count),
               "area": self._total_weight if self._weighted else None,
               "class_breaks": list(self.class_breaks)}
        out["classes"] = self._class_table()
        if self.bin_edges is not None:
            out["histogram"] = {"bin_edges": self.bin_edges.copy(), "counts": self._hist.copy(),
                                "below": self._hist_below, "above": self._hist_above}
        else:
            out["histogram"] = None
        out["percent_above"] = {threshold: 100.0 * weight / self._total_weight
                                for threshold, weight in zip(self.thresholds,
                                                             self._above_weights)}
        return out

    def _class_table(self):
        """Class rows (below, intervals, above) with count, percent (and area when weighted)."""
        columns = CLASS_COLUMNS + (["area"] if self._weighted else [])
        breaks = self.class_breaks
        if not breaks:
            return pd.DataFrame(columns=columns)
        rows = []
        n_classes = len(breaks) + 1
        for index in range(n_classes):
            if index == 0:
                label, lower, upper = f"< {break_label(breaks[0])}", -math.inf, breaks[0]
            elif index == n_classes - 1:
                label, lower, upper = f"> {break_label(breaks[-1])}", breaks[-1], math.inf
            else:
                lower, upper = breaks[index - 1], breaks[index]
                label = interval_label(lower, upper)
            count = int(self._class_counts[index])
            if index in (0, n_classes - 1) and count == 0 and not self.keep_open_classes:
                continue
            row = {"interval": label, "lower": lower, "upper": upper, "count": count,
                   "percent": 100.0 * self._class_weights[index] / self._total_weight}
            if self._weighted:
                row["area"] = float(self._class_weights[index])
            rows.append(row)
        return pd.DataFrame(rows, columns=columns)


def positive_content(value, message):
    """value as a positive finite float (a content in mg/kg); else SoilMetalError(message), where
    message may name the value given as {value!r}."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0.0):
        raise SoilMetalError(message.format(value=value))
    return number


TABLE6_COLUMNS = ["name", "min_estimated", "min_reference", "max_estimated", "max_reference",
                  "mean_estimated", "mean_reference", "std_estimated", "std_reference",
                  "ratio_of_means", "percent_above_reference_max"]


def reference_comparison(stats, reference_mean=None, reference_max=None, reference_min=None,
                         reference_std=None, name="content"):
    """The paper's Table 6 row (dict, TABLE6_COLUMNS) from an accumulator result + references."""
    def optional(value):
        return math.nan if value is None else float(value)

    percent_above = math.nan
    if reference_max is not None:
        shares = stats.get("percent_above", {})
        if float(reference_max) not in shares:
            raise ValueError("build the ContentAccumulator with thresholds=[reference_max] "
                             "to get the share of area above the reference maximum")
        percent_above = shares[float(reference_max)]
    ratio = (stats["mean"] / float(reference_mean)
             if reference_mean is not None and float(reference_mean) != 0 else math.nan)
    return {"name": name,
            "min_estimated": stats["min"], "min_reference": optional(reference_min),
            "max_estimated": stats["max"], "max_reference": optional(reference_max),
            "mean_estimated": stats["mean"], "mean_reference": optional(reference_mean),
            "std_estimated": stats["std"], "std_reference": optional(reference_std),
            "ratio_of_means": ratio, "percent_above_reference_max": percent_above}
