"""Style sidecars: a .qml beside every raster the plugin writes, so that a map made by
qgis_process on a server opens styled when it is dragged into QGIS (QGIS loads `<name>.qml`
beside `<name>.tif` as the layer's default style).

One function writes them all: ``write_style(path, kind, ...)``. The classes come from
core/science/classes.py, where contentstatistics takes its Table 7 classes too.

Kinds:
- ``content``, ``lower``, ``upper``: content classes (round breaks, "auto" unless ``breaks``
  are given; pass the content map's breaks to its interval maps so all three share classes),
  green to purple;
- ``spread`` (ensemble spread), ``width``: white to blue over 0 to the 99th percentile;
- ``igeo``: Muller's classes 0-6; ``cf``: Hakanson's classes < 1, 1-3, 3-6, >= 6;
- ``exceedance``: probability classes 0-0.1-0.25-0.5-0.75-0.9-1;
- ``aoa``: a dissimilarity index with its threshold (``threshold`` or the band metadata key
  AOA_THRESHOLD): inside / outside the area of applicability; ``aoa_mask``: 1 inside, 0 outside;
- ``residual`` (kriged residual): blue-white-red, symmetric around 0;
- ``factors``: one grey band (band 1, 2-98 % stretch), never a false-colour RGB.
"""

import os

from qgis.core import (QgsColorRampShader, QgsContrastEnhancement, QgsGradientColorRamp,
                       QgsProcessingLayerPostProcessorInterface, QgsRasterLayer, QgsRasterShader,
                       QgsSingleBandGrayRenderer, QgsSingleBandPseudoColorRenderer)
from qgis.PyQt.QtGui import QColor

from ..core.science import classes
from ..core.science.classes import nice_breaks
from ..core.science.map_shares import AOA_THRESHOLD_KEY
from ..core.errors import SoilMetalError
from ..core.outputs import final_path
from ..core.raster_io import band_metadata_item, read_band_sample
from ..core.workflows.statistics import map_content_breaks
from ..algorithms.compat import SHADER_DISCRETE

KINDS = ("content", "lower", "upper", "spread", "width", "igeo", "cf", "exceedance", "aoa",
         "aoa_mask", "residual", "factors")


def style_path(raster_path):
    """Where QGIS looks for a raster's default style: the same name with .qml."""
    return os.path.splitext(str(raster_path))[0] + ".qml"


def _label(value):
    """A class break as text, three significant digits at most."""
    return classes.break_text(value)


def _open_classes(breaks, colours, unit=""):
    """Items of open-ended classes over breaks b0..bn: '< b1', 'b1 - b2', ..., '>= b(n-1)'."""
    count = len(breaks) - 1
    palette = classes.colours_for(count, colours)
    suffix = f" {unit}" if unit else ""
    items = []
    for index in range(count):
        lower, upper = breaks[index], breaks[index + 1]
        if count == 1:
            label = f"{_label(lower)} - {_label(upper)}{suffix}"
        elif index == 0:
            label = f"< {_label(upper)}{suffix}"
        elif index == count - 1:
            label = f">= {_label(lower)}{suffix}"
        else:
            label = f"{_label(lower)} - {_label(upper)}{suffix}"
        value = float("inf") if index == count - 1 else float(upper)
        items.append((value, palette[index], label))
    return items


def _index_items(breaks, names, colours, first_label, symbol):
    """Items of an index's standard classes: class k holds values up to breaks[k]."""
    items = []
    for k, name in enumerate(names):
        if k == 0:
            label = f"{first_label}: {name}"
        elif k == len(names) - 1:
            label = f"{'>' if symbol == 'Igeo' else '>='} {_label(breaks[-1])}: {name}"
        else:
            label = f"{_label(breaks[k - 1])} - {_label(breaks[k])}: {name}"
        if symbol == "Igeo":
            label = f"class {k} ({label})"
        value = float(breaks[k]) if k < len(breaks) else float("inf")
        items.append((value, colours[k], label))
    return items


def _band_threshold(path, band=1):
    """The AOA_THRESHOLD of a band's metadata, None when absent or not a number."""
    try:
        value = band_metadata_item(path, band, AOA_THRESHOLD_KEY)
        return float(value) if value is not None else None
    except (ValueError, SoilMetalError):
        return None


def class_items(path, kind, breaks=None, threshold=None, band=1):
    """The classes of a style kind as (upper value, colour, label) tuples (QGIS-free logic)."""
    if kind in ("content", "lower", "upper"):
        breaks = list(breaks) if breaks else map_content_breaks(path, band)
        return _open_classes(breaks or [0.0, 1.0], classes.CONTENT_COLOURS, "mg/kg")
    if kind in ("spread", "width"):
        values = read_band_sample(path, band)
        high = classes.value_range(values, (0.0, 99.0))
        top = high[1] if high and high[1] > 0 else 1.0
        return _open_classes(breaks or nice_breaks(0.0, top, 6), classes.SPREAD_COLOURS, "mg/kg")
    if kind == "residual":
        values = read_band_sample(path, band)
        found = classes.value_range(abs(values), (0.0, 98.0))
        reach = found[1] if found and found[1] > 0 else 1.0
        half = [b for b in nice_breaks(0.0, reach, 3) if b > 0]
        symmetric = [-b for b in reversed(half)] + half
        return _open_classes(symmetric if len(symmetric) > 1 else [-1.0, 1.0],
                             classes.DIVERGING_COLOURS, "mg/kg")
    if kind == "igeo":
        return _index_items(classes.IGEO_CLASS_BREAKS, classes.IGEO_CLASS_NAMES, classes.IGEO_COLOURS,
                            "<= 0", "Igeo")
    if kind == "cf":
        return _index_items(classes.CF_CLASS_BREAKS, classes.CF_CLASS_NAMES, classes.CF_COLOURS,
                            "< 1", "CF")
    if kind == "exceedance":
        edges = classes.PROBABILITY_BREAKS
        palette = classes.colours_for(len(edges) - 1, classes.PROBABILITY_COLOURS)
        return [(float(edges[k + 1]), palette[k], f"{_label(edges[k])} - {_label(edges[k + 1])}")
                for k in range(len(edges) - 1)]
    if kind == "aoa":
        limit = threshold if threshold is not None else _band_threshold(path, band)
        if limit is None:
            return None
        return [(float(limit), "#4dac26", f"inside the area of applicability (DI <= {_label(limit)})"),
                (float("inf"), "#bababa", f"outside (DI > {_label(limit)}): do not use the map here")]
    if kind == "aoa_mask":
        return [(0.5, "#bababa", "0: outside the area of applicability"),
                (float("inf"), "#4dac26", "1: inside the area of applicability")]
    raise ValueError(f"unknown style kind {kind!r}: choose one of {', '.join(KINDS)}")


def _classed_renderer(layer, items, band):
    """A discrete single-band pseudocolour renderer from (value, colour, label) items."""
    ramp = QgsGradientColorRamp(QColor(items[0][1]), QColor(items[-1][1]))
    shader_function = QgsColorRampShader()
    shader_function.setColorRampType(SHADER_DISCRETE)
    shader_function.setSourceColorRamp(ramp)
    shader_function.setColorRampItemList(
        [QgsColorRampShader.ColorRampItem(value, QColor(colour), label) for value, colour, label in items])
    finite = [value for value, _, _ in items if value != float("inf")]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    shader_function.setMinimumValue(low)
    shader_function.setMaximumValue(high)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(shader_function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), band, shader)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    return renderer


def _grey_renderer(layer, band):
    """One grey band stretched over its 2-98 % range."""
    provider = layer.dataProvider()
    renderer = QgsSingleBandGrayRenderer(provider, band)
    enhancement = QgsContrastEnhancement(provider.dataType(band))
    enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
    found = classes.value_range(read_band_sample(layer.source(), band), (2.0, 98.0))
    low, high = found if found else (0.0, 1.0)
    enhancement.setMinimumValue(low)
    enhancement.setMaximumValue(high if high > low else low + 1.0)
    renderer.setContrastEnhancement(enhancement)
    return renderer


def style_layer(layer, kind, breaks=None, threshold=None, band=1):
    """Give a loaded raster layer the style of its kind; False when there is nothing to style."""
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        return False
    if kind == "factors":
        layer.setRenderer(_grey_renderer(layer, band))
        return True
    items = class_items(layer.source(), kind, breaks, threshold, band)
    if not items:
        return False
    layer.setRenderer(_classed_renderer(layer, items, band))
    return True


def save_sidecar(layer, qml_path):
    """Write a layer's style to qml_path: every style sidecar goes through here (a hook for
    transactional output writing)."""
    message, saved = layer.saveNamedStyle(str(qml_path))
    if not saved or not os.path.exists(qml_path):
        raise OSError(f"cannot write the style {qml_path}: {message}")
    return str(qml_path)


def write_style(path, kind, breaks=None, threshold=None, band=1, feedback=None):
    """Write `<path without extension>.qml` styling the raster at `path` as `kind` (see KINDS).

    breaks: content classes for content/lower/upper/spread (default: from the raster, "auto");
    threshold: the DI threshold of an ``aoa`` raster (default: band metadata AOA_THRESHOLD).
    Returns the .qml path, or None when the raster cannot be styled (the reason goes to
    feedback, if given); a style never stops a run that wrote its map.
    """
    layer = QgsRasterLayer(str(path), os.path.basename(str(path)), "gdal",
                           QgsRasterLayer.LayerOptions(loadDefaultStyle=False))
    try:
        if not style_layer(layer, kind, breaks, threshold, band):
            if feedback is not None:
                feedback.pushInfo(f"No style written for {path}: nothing to classify.")
            return None
        return save_sidecar(layer, style_path(path))
    except OSError as error:
        if feedback is not None:
            feedback.reportError(f"{error}. The map is fine; it opens unstyled.", False)
        return None


def apply_content_style(layer, kind="content", title=None, value_range=None):
    """Style a loaded layer as a content (or spread) map; value_range (low, high) sets the classes
    so that several maps share them (the demo's true maps)."""
    kind = "spread" if kind == "uncertainty" else kind
    breaks = nice_breaks(*value_range) if value_range else None
    style_layer(layer, kind, breaks)
    if title:
        layer.setName(title)
    layer.triggerRepaint()


def content_range(layer):
    """The range the content classes of a loaded layer cover (first and last break)."""
    breaks = map_content_breaks(layer.source())
    return (breaks[0], breaks[-1]) if breaks else (0.0, 1.0)


class ContentMapStyler(QgsProcessingLayerPostProcessorInterface):
    """Processing post-processor: loads the sidecar style once the output is in the project."""

    # Processing keeps only a raw pointer: the Python object must stay alive until it is used,
    # and leaves once it has styled its layer. One per (context, output): styling an output
    # again replaces the layer's post-processor, so the one it replaced is dropped with it.
    _pending = {}

    def __init__(self, key, qml, title):
        super().__init__()
        self.key = key
        self.qml = qml
        self.title = title
        ContentMapStyler._pending[key] = self

    def postProcessLayer(self, layer, context, feedback):
        """Load the sidecar style and a readable layer name."""
        try:
            if self.qml and os.path.exists(self.qml):
                layer.loadNamedStyle(self.qml)
            if self.title:
                layer.setName(self.title)
            layer.triggerRepaint()
        finally:
            if ContentMapStyler._pending.get(self.key) is self:
                del ContentMapStyler._pending[self.key]


TITLES = {"content": "{metal} content (mg/kg)",
          "lower": "{metal} lower bound (mg/kg)", "upper": "{metal} upper bound (mg/kg)",
          "spread": "{metal} ensemble spread (model disagreement, not an error bar, mg/kg)",
          "width": "{metal} interval width (mg/kg)", "igeo": "Igeo {metal}", "cf": "CF {metal}",
          "exceedance": "{metal} probability above the threshold", "aoa": "Area of applicability (DI)",
          "aoa_mask": "Area of applicability", "residual": "{metal} kriged residual (mg/kg)",
          "factors": "{metal}"}


def style_output(context, path, kind, metal="Content", breaks=None, threshold=None, feedback=None):
    """Write the sidecar of an output raster and, when Processing loads it into the project,
    give it the style and a readable name. Returns the .qml path (or None)."""
    qml = write_style(path, kind, breaks, threshold, feedback=feedback)
    # Inside a run's output transaction `path` is the staged name: the .qml carries the same
    # prefix, so the commit moves it beside the final raster, which is what Processing loads.
    final = final_path(path)
    if context is not None and context.willLoadLayerOnCompletion(final):
        title = TITLES.get(kind, "{metal}").format(metal=metal)
        details = context.layerToLoadOnCompletionDetails(final)
        details.name = title
        details.setPostProcessor(ContentMapStyler((id(context), final), style_path(final) if qml else None,
                                                 title))
    return qml
