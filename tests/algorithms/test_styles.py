"""styles.rasters' load-time styling: a post-processor stays alive until it styled its layer,
and styling the same output again replaces it instead of keeping both."""

import numpy as np
from qgis.core import QgsProcessingContext, QgsProcessingUtils, QgsProject, QgsRasterLayer

from rasters import write_raster


def test_one_pending_styler_per_output_and_none_once_it_styled(qgis_app, tmp_path):
    from soilmetal.styles.rasters import ContentMapStyler, style_output
    path = str(write_raster(tmp_path / "cu.tif", [np.arange(20.0).reshape(4, 5)], ["Cu"]))
    context = QgsProcessingContext()
    context.addLayerToLoadOnCompletion(path, QgsProcessingContext.LayerDetails(
        "cu", QgsProject.instance(), "OUTPUT", QgsProcessingUtils.LayerHint.Raster))
    before = dict(ContentMapStyler._pending)
    style_output(context, path, "content", "Cu")
    style_output(context, path, "content", "Cu")
    added = [styler for key, styler in ContentMapStyler._pending.items() if key not in before]
    assert len(added) == 1
    details = context.layerToLoadOnCompletionDetails(path)
    layer = QgsRasterLayer(path, "cu", "gdal")
    details.postProcessor().postProcessLayer(layer, context, None)
    assert layer.name() == "Cu content (mg/kg)"
    assert ContentMapStyler._pending == before
