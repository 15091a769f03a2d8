"""Colour ramps for content maps, applied when Processing loads an output into the project."""

import math

from qgis.core import (QgsColorRampShader, QgsGradientColorRamp, QgsGradientStop,
                       QgsProcessingLayerPostProcessorInterface,
                       QgsRasterLayer, QgsRasterShader, QgsSingleBandPseudoColorRenderer)
from qgis.PyQt.QtGui import QColor

from .compat import SHADER_DISCRETE, STATISTIC_MAX, STATISTIC_MIN
from ..core.outputs import final_path

# Low content green, background yellow, contaminated red to purple: the usual reading of a
# contamination map. Uncertainty maps use a neutral white-to-blue ramp.
CONTENT_COLOURS = ("#1a9850", "#a6d96a", "#ffffbf", "#fdae61", "#d73027", "#7b1f5e")
UNCERTAINTY_COLOURS = ("#f7fbff", "#9ecae1", "#2171b5", "#08306b")
CLASSES = 8


def _ramp(colours):
    """A gradient colour ramp through the given colours, evenly spaced."""
    stops = [QgsGradientStop(i / (len(colours) - 1), QColor(c)) for i, c in enumerate(colours[1:-1], start=1)]
    return QgsGradientColorRamp(QColor(colours[0]), QColor(colours[-1]), False, stops)


def nice_breaks(low, high, classes=CLASSES):
    """About `classes` + 1 round class breaks (steps of 1, 2, 2.5 or 5 x 10^k) covering [low, high]."""
    raw = (high - low) / max(classes, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    count = max(1, math.ceil((high - start) / step - 1e-9))
    return [start + i * step for i in range(count + 1)]


def _format(value):
    """A break value without spurious decimals."""
    return f"{value:g}"


def content_range(layer):
    """The 2-98 % range of band 1 (min/max when no histogram can be built)."""
    provider = layer.dataProvider()
    stats = provider.bandStatistics(1, STATISTIC_MIN | STATISTIC_MAX)
    low, high = stats.minimumValue, stats.maximumValue
    try:
        low, high = provider.cumulativeCut(1, 0.02, 0.98)
    except Exception:  # cumulativeCut needs a histogram; keep min/max when it cannot be built
        pass
    return low, high


def apply_content_style(layer, kind="content", title=None, value_range=None):
    """Style band 1 of a raster layer in discrete classes with round breaks over its 2-98 % range,
    or over value_range (low, high) so that several maps share the same classes."""
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        return
    provider = layer.dataProvider()
    low, high = value_range if value_range else content_range(layer)
    if not high > low:
        high = low + 1.0
    colours = UNCERTAINTY_COLOURS if kind == "uncertainty" else CONTENT_COLOURS
    ramp = _ramp(colours)
    breaks = nice_breaks(low, high)
    classes = len(breaks) - 1
    # Discrete classes: each pixel takes the colour of the class whose upper break it does not
    # exceed; the first and last classes are open so no pixel is left uncoloured.
    items = []
    for index in range(classes):
        lower, upper = breaks[index], breaks[index + 1]
        if index == 0:
            label = f"< {_format(upper)}"
        elif index == classes - 1:
            label = f">= {_format(lower)}"
        else:
            label = f"{_format(lower)} - {_format(upper)}"
        value = float("inf") if index == classes - 1 else upper
        items.append(QgsColorRampShader.ColorRampItem(value, ramp.color(index / max(classes - 1, 1)), label))
    shader_function = QgsColorRampShader(breaks[0], breaks[-1], ramp, SHADER_DISCRETE)
    shader_function.setColorRampItemList(items)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(shader_function)
    renderer = QgsSingleBandPseudoColorRenderer(provider, 1, shader)
    renderer.setClassificationMin(breaks[0])
    renderer.setClassificationMax(breaks[-1])
    layer.setRenderer(renderer)
    if title:
        layer.setName(title)
    layer.triggerRepaint()


class ContentMapStyler(QgsProcessingLayerPostProcessorInterface):
    """Processing post-processor: styles a content or uncertainty map once it is loaded."""

    # Processing keeps only a raw pointer: the Python objects must stay alive until used.
    _alive = []

    def __init__(self, kind, title):
        super().__init__()
        self.kind = kind
        self.title = title
        ContentMapStyler._alive.append(self)

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        """Apply the ramp and a readable layer name."""
        apply_content_style(layer, self.kind, self.title)


def style_content_output(context, output_path, metal, kind="content"):
    """Ask Processing to style the output when it loads it into the project."""
    output_path = final_path(output_path)  # the run writes a temporary name; Processing loads the final one
    if not context.willLoadLayerOnCompletion(output_path):
        return
    title = (f"{metal} content (mg/kg)" if kind == "content" else
             f"{metal} ensemble spread (model disagreement, not an error bar, mg/kg)")
    details = context.layerToLoadOnCompletionDetails(output_path)
    details.name = title
    details.setPostProcessor(ContentMapStyler(kind, title))
