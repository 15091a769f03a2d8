"""What the factor algorithms (spectralindices, terrainfactors, topographiccorrection) read
alike: a product metadata file as INPUT, the QA classes to mask, required and optional rasters."""

from qgis.core import QgsProcessingException, QgsProperty

from ..core.landsat import is_mtl_file
from ..core.science.qa_masks import MASK_CLASSES
from ..core.sentinel2 import is_sentinel2_product
from .base import SoilMetalAlgorithm


class FactorAlgorithm(SoilMetalAlgorithm):
    """A SoilMetalAlgorithm with the parameter readers of the factor-preparation steps."""

    INPUT = "INPUT"
    MASK = "MASK"

    def product_path(self, parameters, context):
        """The INPUT value when it is a product metadata file (Landsat *_MTL.txt, Sentinel-2
        MTD_MSIL2A.xml or .SAFE folder), else None (a raster layer)."""
        value = parameters.get(self.INPUT)
        if isinstance(value, QgsProperty):
            # A property (e.g. from a model or an expression) is evaluated to its text.
            value = self.parameterAsString(parameters, self.INPUT, context)
        if isinstance(value, str) and value.strip() and (
                is_mtl_file(value.strip()) or is_sentinel2_product(value.strip())):
            return value.strip()
        return None

    def check_all_but_input(self, parameters, context):
        """The same check as QgsProcessingAlgorithm.checkParameterValues, without INPUT."""
        for definition in self.parameterDefinitions():
            if definition.name() == self.INPUT:
                continue
            if not definition.checkValueIsAcceptable(parameters.get(definition.name()), context):
                return False, self.tr("Incorrect parameter value for {}").format(definition.name())
        message = self._unwritable_outputs(parameters, context)
        return (False, message) if message else (True, "")

    def mask_classes(self, parameters, context):
        """The chosen MASK classes; an explicitly empty MASK masks nothing."""
        value = parameters.get(self.MASK, None)
        if self.MASK in parameters and (value == [] or value == ""):
            return []
        return [MASK_CLASSES[index] for index in self.parameterAsEnums(parameters, self.MASK, context)]

    def required_raster(self, parameters, name, context):
        """Path of a raster parameter; QgsProcessingException when it is not a readable raster."""
        path = self.raster_path(parameters, name, context)
        if path is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, name))
        return path

    def optional_raster(self, parameters, name, context):
        """Path of an optional raster parameter, None when empty."""
        if parameters.get(name) in (None, ""):
            return None
        return self.required_raster(parameters, name, context)
