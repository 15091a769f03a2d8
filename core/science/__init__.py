"""Science: the methods as arrays in, arrays out (network, GA, LM, GA-BP, transfer, splits, CV,
selection, outliers, metrics, indices, terrain, topographic correction, kriging, intervals, AOA,
content statistics). Imports neither raster_io, reports, workflows nor qgis."""
