"""soilmetal: QGIS Processing provider for soil heavy metal retrieval (Tr-GA-BP)."""


def classFactory(iface):  # noqa: N802 (QGIS plugin entry point name)
    """QGIS entry point: build the plugin object."""
    from .plugin import SoilMetalPlugin
    return SoilMetalPlugin(iface)
