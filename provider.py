"""The soilmetal Processing provider."""

import glob
import os

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
ICON_PATH = os.path.join(PLUGIN_DIR, "icons", "soilmetal.svg")
MODELS_DIR = os.path.join(PLUGIN_DIR, "models")
MODEL_TAGS = ("workflow", "graphical model", "Tr-GA-BP", "transfer learning", "GA-BP", "neural network",
              "Landsat", "DEM", "content map")


def _version():
    """The plugin version from metadata.txt."""
    with open(os.path.join(PLUGIN_DIR, "metadata.txt"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
    return ""


class ShippedModel(QgsProcessingModelAlgorithm):
    """A graphical model shipped with the plugin: QGIS's own rich help in the toolbox, plain text
    in qgis_process and scripts (QGIS 3.22 prints a model's help there as raw HTML)."""

    def shortHelpString(self):  # noqa: N802 (QGIS API name)
        from .algorithms.help_render import render_model_text, rich_help_wanted
        return super().shortHelpString() if rich_help_wanted() else render_model_text(self)

    def helpUrl(self):  # noqa: N802 (QGIS API name)
        from .algorithms.help_render import help_url
        return super().helpUrl() or help_url()

    def tags(self):
        from .algorithms.help_render import search_tags
        return search_tags(MODEL_TAGS, self)


class SoilMetalProvider(QgsProcessingProvider):
    """Provides the soilmetal algorithms (and the shipped workflow model)."""

    def id(self):
        """Provider id used in algorithm ids: soilmetal:<name>."""
        return "soilmetal"

    def name(self):
        """Name shown in the toolbox."""
        return "Soil heavy metal retrieval"

    def longName(self):
        """Name with the version."""
        return f"Soil heavy metal retrieval {_version()}"

    def versionInfo(self):
        """Version shown in the Processing options."""
        return _version()

    def icon(self):
        """The provider icon."""
        return QIcon(ICON_PATH)

    def svgIconPath(self):
        """Path of the provider's SVG icon."""
        return ICON_PATH

    def loadAlgorithms(self):
        """Add one instance of every algorithm."""
        from .algorithms import all_algorithms
        for algorithm in all_algorithms():
            self.addAlgorithm(algorithm)
        # The shipped graphical models (the whole workflow), editable in the modeler. A model
        # resolves its steps through the registry, so it can only be loaded once this provider
        # is registered: the plugin refreshes the provider right after adding it.
        if QgsApplication.processingRegistry().providerById(self.id()) is not self:
            return
        for path in sorted(glob.glob(os.path.join(MODELS_DIR, "*.model3"))):
            model = ShippedModel()
            if model.fromFile(path):
                self.addAlgorithm(model)
