"""spectralindices: Landsat 8 OLI reflectance bands and spectral indices as one factor raster."""

import os

from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingOutputString, QgsProcessingParameterBand,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer)

from ..core.science.indices import ALL_FACTORS, SCALE_LABELS, Scale, default_band_numbers
from ..core.science.qa_masks import DEFAULT_MASK, LAYOUT_LABELS, LAYOUTS, MASK_CLASSES
from ..core.sentinel2 import GRID_CHOICES as S2_GRID_CHOICES, GRID_LABELS as S2_GRID_LABELS
from ..core.workflows.spectral_indices import run_spectral_indices
from .factor_inputs import FactorAlgorithm
from ..styles.rasters import style_output


class SpectralIndicesAlgorithm(FactorAlgorithm):
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

    def checkParameterValues(self, parameters, context):
        """Accept a product metadata path as INPUT (no raster layer can load a .txt); check the rest."""
        if self.product_path(parameters, context) is not None:
            return self.check_all_but_input(parameters, context)
        ok, message = super().checkParameterValues(parameters, context)
        value = parameters.get(self.INPUT)
        if not ok and not self.parameterDefinition(self.INPUT).checkValueIsAcceptable(value, context):
            missing = isinstance(value, str) and not os.path.exists(value)
            problem = (self.tr("was not found (no such file, nor a layer of that name)") if missing else
                       self.tr("is neither a raster QGIS can open nor a Landsat 8 *_MTL.txt metadata file"))
            message = self.tr(
                "INPUT: '{}' {}. Choose a multi-band raster of the six reflectance bands, or the MTL "
                "file of a Landsat 8 product with its band files beside it.").format(value, problem)
        return ok, message

    def band_numbers(self, parameters, context, band_count):
        """The six BAND_* values as 1-based numbers, None when none is set (core's default)."""
        chosen = [self.parameterAsInt(parameters, name, context)
                  if parameters.get(name) not in (None, "") else 0
                  for name, _ in self.BAND_PARAMETERS]
        if not any(chosen):
            return None
        defaults = default_band_numbers(band_count)
        return tuple(number if number else default for number, default in zip(chosen, defaults))

    def input_and_bands(self, parameters, context):
        """INPUT's path and the BAND_* numbers (None for a product: its metadata names the bands)."""
        input_path = self.product_path(parameters, context)
        if input_path is not None:
            return input_path, None
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        input_path = self.raster_path(parameters, self.INPUT, context)
        return input_path, self.band_numbers(parameters, context, layer.bandCount())

    def chosen_factors(self, parameters, context):
        """The FACTORS chosen, by name; refused when none is."""
        factors = [ALL_FACTORS[index] for index in self.parameterAsEnums(parameters, self.FACTORS, context)]
        if not factors:
            raise QgsProcessingException(self.tr(
                "FACTORS: no factor chosen. Choose at least one of {}.").format(", ".join(ALL_FACTORS)))
        return factors

    def execute(self, parameters, context, feedback):
        """Resolve the input (raster or product), run the workflow, return the output and its band names."""
        input_path, bands = self.input_and_bands(parameters, context)
        factors = self.chosen_factors(parameters, context)
        scale = Scale(self.parameterAsEnum(parameters, self.SCALE, context))
        qa_path = self.optional_raster(parameters, self.QA, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        run = run_spectral_indices(
            input_path, output, bands=bands, scale=scale, factors=factors,
            mask=self.mask_classes(parameters, context), qa_path=qa_path,
            qa_layout=LAYOUTS[self.parameterAsEnum(parameters, self.QA_LAYOUT, context)],
            accept_scale=self.parameterAsBool(parameters, self.ACCEPT_SCALE, context),
            monitor=self.monitor(feedback),
            s2_resolution=S2_GRID_CHOICES[self.parameterAsEnum(parameters, self.S2_RESOLUTION, context)])
        style_output(context, output, "factors", "Spectral factors", feedback=feedback)
        return {self.OUTPUT: output, self.FACTOR_NAMES: ",".join(run.factors),
                self.MASKED_SHARE: run.masked_share}
