"""How the plugin's output rasters look in QGIS: the .qml style beside each raster it writes and
the style and name Processing gives the layer it loads. QGIS layer code (qgis.core), so not core/;
no algorithm, so not algorithms/."""
