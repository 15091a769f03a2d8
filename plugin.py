"""The plugin object: registers the Processing provider in QGIS and in qgis_process."""

from qgis.core import QgsApplication


class SoilMetalPlugin:
    """Registers the soilmetal provider; works with and without a GUI (iface is None in qgis_process)."""

    def __init__(self, iface=None):
        self.iface = iface
        self.provider = None

    def initProcessing(self):
        """Register the provider once; calling again does nothing."""
        if self.provider is not None:
            return
        from .provider import SoilMetalProvider
        self.provider = SoilMetalProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)
        # Second pass: the shipped workflow model needs the algorithms registered first.
        self.provider.refreshAlgorithms()

    def initGui(self):
        """Called by QGIS desktop: the provider is all the GUI we need."""
        self.initProcessing()

    def unload(self):
        """Remove the provider when the plugin is unloaded or reloaded."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
