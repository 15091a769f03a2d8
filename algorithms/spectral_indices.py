"""spectralindices: Landsat 8 OLI reflectance bands and spectral indices as one factor raster."""

import os

from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingOutputString, QgsProcessingParameterBand,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProperty)

from ..core.indices import (ALL_FACTORS, SCALE_LABELS, Scale, default_band_numbers,
                            run_spectral_indices)
from ..core.landsat import is_mtl_file
from ..core.science.qa_masks import DEFAULT_MASK, LAYOUT_LABELS, LAYOUTS, MASK_CLASSES
from ..core.sentinel2 import GRID_CHOICES as S2_GRID_CHOICES, GRID_LABELS as S2_GRID_LABELS, is_sentinel2_product
from .base import SoilMetalAlgorithm
from .styling import style_output


class SpectralIndicesAlgorithm(SoilMetalAlgorithm):
    """Writes B2-B7 reflectance and the paper's spectral indices of a Landsat 8 scene."""

    ALGORITHM_ID = "spectralindices"
    DISPLAY_NAME = "Spectral indices"
    GROUP = "factors"

    INPUT = "INPUT"
    BAND_BLUE = "BAND_BLUE"
    BAND_GREEN = "BAND_GREEN"
    BAND_RED = "BAND_RED"
    BAND_NIR = "BAND_NIR"
    BAND_SWIR1 = "BAND_SWIR1"
    BAND_SWIR2 = "BAND_SWIR2"
    SCALE = "SCALE"
    FACTORS = "FACTORS"
    OUTPUT = "OUTPUT"
    FACTOR_NAMES = "FACTOR_NAMES"
    MASK = "MASK"
    QA = "QA"
    QA_LAYOUT = "QA_LAYOUT"
    ACCEPT_SCALE = "ACCEPT_SCALE"
    S2_RESOLUTION = "S2_RESOLUTION"
    MASKED_SHARE = "MASKED_SHARE"

    # In the order core expects them (blue, green, red, nir, swir1, swir2).
    BAND_PARAMETERS = (
        (BAND_BLUE, "Blue band (OLI B2)"), (BAND_GREEN, "Green band (OLI B3)"),
        (BAND_RED, "Red band (OLI B4)"), (BAND_NIR, "Near-infrared band (OLI B5)"),
        (BAND_SWIR1, "Shortwave infrared 1 band (OLI B6)"),
        (BAND_SWIR2, "Shortwave infrared 2 band (OLI B7)"))

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_parameter(QgsProcessingParameterRasterLayer(
            self.INPUT, self.tr("Bands (multi-band raster, Landsat 8/9 *_MTL.txt, or Sentinel-2 "
                                "MTD_MSIL2A.xml)")))
        for name, label in self.BAND_PARAMETERS:
            self.add_parameter(QgsProcessingParameterBand(
                name, self.tr(label), parentLayerParameterName=self.INPUT, optional=True))
        self.add_parameter(QgsProcessingParameterEnum(
            self.SCALE, self.tr("Band values are"),
            options=[self.tr(SCALE_LABELS[scale]) for scale in Scale],
            defaultValue=int(Scale.REFLECTANCE)))
        self.add_parameter(QgsProcessingParameterEnum(
            self.FACTORS, self.tr("Factors to write"), options=list(ALL_FACTORS), allowMultiple=True,
            defaultValue=list(range(len(ALL_FACTORS)))))
        self.add_parameter(QgsProcessingParameterEnum(
            self.MASK, self.tr("QA classes set to nodata"), options=list(MASK_CLASSES),
            allowMultiple=True, optional=True,
            defaultValue=[MASK_CLASSES.index(name) for name in DEFAULT_MASK]))
        self.add_parameter(QgsProcessingParameterRasterLayer(
            self.QA, self.tr("QA band of a raster INPUT (QA_PIXEL, BQA or SCL)"), optional=True),
            advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.QA_LAYOUT, self.tr("Layout of the QA band"),
            options=[self.tr(LAYOUT_LABELS[layout]) for layout in LAYOUTS], defaultValue=0),
            advanced=True)
        self.add_parameter(QgsProcessingParameterBoolean(
            self.ACCEPT_SCALE, self.tr("Accept SCALE even when the values contradict it"),
            defaultValue=False), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.S2_RESOLUTION, self.tr("Sentinel-2 grid"),
            options=[self.tr(label) for label in S2_GRID_LABELS], defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT, self.tr("Spectral factors")))
        self.addOutput(QgsProcessingOutputString(self.FACTOR_NAMES, self.tr("Factor names written")))
        self.addOutput(QgsProcessingOutputNumber(
            self.MASKED_SHARE, self.tr("Share of the pixels with data masked by the QA band")))

    def mtl_path(self, parameters, context):
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

    def checkParameterValues(self, parameters, context):
        """Accept a Landsat MTL path as INPUT (no raster layer can load a .txt); check the rest."""
        if self.mtl_path(parameters, context) is None:
            ok, message = super().checkParameterValues(parameters, context)
            value = parameters.get(self.INPUT)
            if not ok and not self.parameterDefinition(self.INPUT).checkValueIsAcceptable(value, context):
                missing = isinstance(value, str) and not os.path.exists(value)
                problem = ("was not found (no such file, nor a layer of that name)" if missing else
                           "is neither a raster QGIS can open nor a Landsat 8 *_MTL.txt metadata file")
                message = self.tr(
                    f"INPUT: '{value}' {problem}. Choose a multi-band raster of the six reflectance "
                    "bands, or the MTL file of a Landsat 8 product with its band files beside it.")
            return ok, message
        return self.check_all_but_input(parameters, context)

    def check_all_but_input(self, parameters, context):
        """The same check as QgsProcessingAlgorithm.checkParameterValues, without INPUT."""
        for definition in self.parameterDefinitions():
            if definition.name() == self.INPUT:
                continue
            if not definition.checkValueIsAcceptable(parameters.get(definition.name()), context):
                return False, self.tr(f"Incorrect parameter value for {definition.name()}")
        message = self._unwritable_outputs(parameters, context)
        return (False, message) if message else (True, "")

    def band_numbers(self, parameters, context, band_count):
        """The six BAND_* values as 1-based numbers, None when none is set (core's default)."""
        chosen = [self.parameterAsInt(parameters, name, context)
                  if parameters.get(name) not in (None, "") else 0
                  for name, _ in self.BAND_PARAMETERS]
        if not any(chosen):
            return None
        defaults = default_band_numbers(band_count)
        return tuple(number if number else default for number, default in zip(chosen, defaults))

    def execute(self, parameters, context, feedback):
        """Resolve the input (raster or MTL), call core, return the output and its band names."""
        input_path = self.mtl_path(parameters, context)
        bands = None
        if input_path is None:
            layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
            if layer is None:
                raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
            input_path = self.raster_path(parameters, self.INPUT, context)
            bands = self.band_numbers(parameters, context, layer.bandCount())
        factors = [ALL_FACTORS[index] for index in self.parameterAsEnums(parameters, self.FACTORS, context)]
        if not factors:
            raise QgsProcessingException(self.tr(
                f"FACTORS: no factor chosen. Choose at least one of {', '.join(ALL_FACTORS)}."))
        scale = Scale(self.parameterAsEnum(parameters, self.SCALE, context))
        qa_path = None
        if parameters.get(self.QA) not in (None, ""):
            qa_path = self.raster_path(parameters, self.QA, context)
            if qa_path is None:
                raise QgsProcessingException(self.invalidRasterError(parameters, self.QA))
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = run_spectral_indices(
            input_path, output, bands=bands, scale=scale, factors=factors,
            mask=self.mask_classes(parameters, context), qa_path=qa_path,
            qa_layout=LAYOUTS[self.parameterAsEnum(parameters, self.QA_LAYOUT, context)],
            accept_scale=self.parameterAsBool(parameters, self.ACCEPT_SCALE, context),
            monitor=self.monitor(feedback),
            s2_resolution=S2_GRID_CHOICES[self.parameterAsEnum(parameters, self.S2_RESOLUTION, context)])
        style_output(context, output, "factors", "Spectral factors", feedback=feedback)
        return {self.OUTPUT: output, self.FACTOR_NAMES: ",".join(result["factors"]),
                self.MASKED_SHARE: result["masked_share"]}

    def mask_classes(self, parameters, context):
        """The chosen MASK classes; an explicitly empty MASK masks nothing."""
        value = parameters.get(self.MASK, None)
        if self.MASK in parameters and (value == [] or value == ""):
            return []
        return [MASK_CLASSES[index] for index in self.parameterAsEnums(parameters, self.MASK, context)]
