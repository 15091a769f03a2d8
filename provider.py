"""The soilmetal Processing provider."""

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
ICON_PATH = os.path.join(PLUGIN_DIR, "icons", "soilmetal.svg")


def _version():
    """The plugin version from metadata.txt."""
    with open(os.path.join(PLUGIN_DIR, "metadata.txt"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
    return ""


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
