"""soilmetal: QGIS Processing provider for soil heavy metal retrieval (Tr-GA-BP)."""


def classFactory(iface):
    """QGIS entry point: build the plugin object."""
    from .plugin import SoilMetalPlugin
    return SoilMetalPlugin(iface)
