"""The science of soilmetal: pure NumPy/SciPy/pandas, no QGIS; GDAL only in raster_io."""
