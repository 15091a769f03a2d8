"""Shares of a content map's area: above a threshold (with an interval when bounds or an
exceedance map are given) and inside the area of applicability (AOA). Block by block.

Area above THRESHOLD (mg/kg):
- from the content map alone: the share of the area whose mapped content is above it. It has
  no interval: the map alone cannot say how sure that share is;
- with LOWER and UPPER bound maps (predictcontent's OUTPUT_LOWER / OUTPUT_UPPER at COVERAGE,
  e.g. 90 %): from the share where even the lower bound is above the threshold (above it with
  confidence) to the share where the upper bound is above it (possibly above). These are
  pointwise bounds: the range is what the per-pixel intervals allow, not a joint confidence
  interval of the area;
- with an EXCEEDANCE map (probability that the content is above the threshold, 0-1): the
  expected share (mean probability, area weighted) and, when no bounds are given, the range from
  the share with a probability >= 0.95 to the share with a probability > 0.05 (the same as the
  bounds of a 90 % central interval).

Share inside the AOA: the AOA raster is predictcontent's OUTPUT_AOA (the dissimilarity index,
with the threshold in the band metadata key AOA_THRESHOLD: inside where DI <= threshold) or a
0/1 mask (1 inside). The share is over the content map's valid pixels; a valid content pixel
without an AOA value counts as not inside.

Arrays in, percentages out: the blocks come from core/workflows/statistics.py, the table rows and
report text from core/reports/statistics.py.
"""

import numpy as np

from ..errors import SoilMetalError

# The band metadata key that holds an AOA raster's DI threshold: the mapping workflow writes it,
# the statistics workflow and the AOA style read it.
AOA_THRESHOLD_KEY = "AOA_THRESHOLD"
# An exceedance probability above LIKELY means "above with confidence", above POSSIBLE "possibly
# above": the tails of a 90 % central interval.
LIKELY, POSSIBLE = 0.95, 0.05


def aoa_rule(threshold_text, sample):
    """How to read an AOA raster -> ("di", threshold) or ("mask", None), from the band metadata's
    AOA_THRESHOLD or, without it, from its values (a sample array, NaN = nodata)."""
    if threshold_text not in (None, ""):
        try:
            return "di", float(threshold_text)
        except ValueError:
            raise SoilMetalError(f"The AOA raster's {AOA_THRESHOLD_KEY} metadata is "
                                 f"{threshold_text!r}, not a number: write the AOA with "
                                 "predictcontent's OUTPUT_AOA again.") from None
    values = np.unique(sample[np.isfinite(sample)])
    if values.size and np.all(np.isin(values, (0.0, 1.0))):
        return "mask", None
    raise SoilMetalError(
        f"The AOA raster has no {AOA_THRESHOLD_KEY} in its band metadata and is not a 0/1 mask "
        "(values other than 0 and 1 were found). Give predictcontent's OUTPUT_AOA (the "
        "dissimilarity index with its threshold), or a mask with 1 inside and 0 outside.")


def inside_aoa(values, rule):
    """Boolean block: True inside the AOA (NaN = nodata is never inside)."""
    kind, threshold = rule
    finite = np.isfinite(values)
    if kind == "di":
        return finite & (np.where(finite, values, np.inf) <= threshold)
    return finite & (np.where(finite, values, 0.0) == 1.0)


class MapShares:
    """Accumulates area above a threshold (and its bounds) and area inside the AOA."""

    def __init__(self, threshold=None, with_bounds=False, with_exceedance=False, with_aoa=False):
        self.threshold = threshold
        self.with_bounds = with_bounds
        self.with_exceedance = with_exceedance
        self.with_aoa = with_aoa
        self.total = 0.0
        self.sums = {"above": 0.0, "low": 0.0, "high": 0.0, "expected": 0.0, "aoa": 0.0}

    def update(self, content, area=None, lower=None, upper=None, exceedance=None, aoa_inside=None):
        """Add a block: content (NaN = nodata), pixel area (scalar, row vector or None = 1 each),
        and the same-shaped companions that were given."""
        valid = np.isfinite(content)
        weight = np.broadcast_to(1.0 if area is None else area, content.shape)
        weight = np.where(valid, weight, 0.0)
        self.total += float(weight.sum())

        def add(key, mask):
            self.sums[key] += float(weight[mask & valid].sum())
        if self.threshold is not None:
            t = self.threshold
            add("above", np.where(valid, content, -np.inf) > t)
            if self.with_bounds:
                add("low", np.where(np.isfinite(lower), lower, -np.inf) > t)
                add("high", np.where(np.isfinite(upper), upper, -np.inf) > t)
            if self.with_exceedance:
                p = np.where(np.isfinite(exceedance), exceedance, 0.0)
                self.sums["expected"] += float((weight * p).sum())
                if not self.with_bounds:
                    add("low", p >= LIKELY)
                    add("high", p > POSSIBLE)
        if self.with_aoa:
            add("aoa", aoa_inside)

    def result(self):
        """Percentages of the valid content area; None where an input was not given."""
        def percent(key):
            return 100.0 * self.sums[key] / self.total if self.total else float("nan")
        has_range = self.threshold is not None and (self.with_bounds or self.with_exceedance)
        return {
            "threshold": self.threshold,
            "percent_above": percent("above") if self.threshold is not None else None,
            "percent_above_low": percent("low") if has_range else None,
            "percent_above_high": percent("high") if has_range else None,
            "percent_above_expected": (percent("expected") if self.threshold is not None
                                       and self.with_exceedance else None),
            "interval_from": ("bounds" if self.with_bounds else "exceedance" if self.with_exceedance
                              else None) if self.threshold is not None else None,
            "percent_inside_aoa": percent("aoa") if self.with_aoa else None,
            "area": self.total}
