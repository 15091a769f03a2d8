"""Pollution indices of a content C against a background B: the geo-accumulation index
Igeo = log2(C / (1.5 B)) with Muller's (1969) classes 0-6, and the contamination factor CF = C / B
with Hakanson's (1980) classes. Arrays in, arrays out; NaN where an index is undefined.

``INDEX_SPECS`` lists the indices in the order of contentstatistics' INDEX enum (0 Igeo, 1 CF);
``index_spec`` finds one by that number or by its kind name.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SoilMetalError
from .classes import CF_CLASS_BREAKS, CF_CLASS_NAMES, IGEO_CLASS_BREAKS, IGEO_CLASS_NAMES
from .content_stats import positive_content


def contamination_factor(content, background):
    """Contamination factor content / background, same shape; NaN where content is NaN or < 0."""
    background = _check_background(background)
    content = np.asarray(content, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(content >= 0, content / background, np.nan)


def geoaccumulation_index(content, background):
    """Igeo = log2(content / (1.5 x background)), same shape; NaN where content is NaN or <= 0."""
    background = _check_background(background)
    content = np.asarray(content, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(content > 0, content, np.nan)
        return np.log2(safe / (1.5 * background))


def _check_background(background):
    """A background value must be a positive finite number."""
    return positive_content(background, "The background (reference) content must be a positive "
                                        "number in mg/kg, got {value!r}.")


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

    def named_classes(self, classes):
        """An index class table (ContentAccumulator classes) with the class number and name."""
        classes = classes.copy()
        numbers = []
        for lower in classes["lower"]:
            numbers.append(0 if lower == -math.inf else list(self.breaks).index(lower) + 1)
        classes.insert(1, "class_number", numbers)
        classes.insert(2, "class_name", [self.class_names[n] for n in numbers])
        return classes


INDEX_SPECS = (
    IndexSpec("igeo", "Igeo", "Geo-accumulation index", "Igeo = log2(C / (1.5 B))",
              IGEO_CLASS_BREAKS, IGEO_CLASS_NAMES, "M\u00fcller (1969)"),
    IndexSpec("cf", "CF", "Contamination factor", "CF = C / B",
              CF_CLASS_BREAKS, CF_CLASS_NAMES, "Hakanson (1980)"),
)


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
