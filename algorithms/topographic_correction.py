"""topographiccorrection: terrain illumination correction of reflectance bands with a DEM."""

from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingParameterBand, QgsProcessingParameterEnum,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from .compat import NUMBER_DOUBLE
from ..core.science.qa_masks import DEFAULT_MASK, MASK_CLASSES
from ..core.science.topographic import METHOD_LABELS, METHODS
from ..core.topographic_run import run_topographic_correction
from .base import SoilMetalAlgorithm
from .spectral_indices import SpectralIndicesAlgorithm


class TopographicCorrectionAlgorithm(SoilMetalAlgorithm):
    """Corrects each band for the illumination of the terrain (cosine, C, SCS+C, Minnaert)."""

    ALGORITHM_ID = "topographiccorrection"
    DISPLAY_NAME = "Topographic correction"
    GROUP = "factors"

    INPUT = "INPUT"
    DEM = "DEM"
    DEM_BAND = "DEM_BAND"
    METHOD = "METHOD"
    SUN_AZIMUTH = "SUN_AZIMUTH"
    SUN_ELEVATION = "SUN_ELEVATION"
    MASK = "MASK"
    FIT_MASK = "FIT_MASK"
    OUTPUT = "OUTPUT"
    OUTPUT_ILLUMINATION = "OUTPUT_ILLUMINATION"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    MASKED_SHARE = "MASKED_SHARE"

    # A product metadata file is accepted as INPUT the same way spectralindices accepts it.
    mtl_path = SpectralIndicesAlgorithm.mtl_path
    mask_classes = SpectralIndicesAlgorithm.mask_classes
    check_all_but_input = SpectralIndicesAlgorithm.check_all_but_input

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_parameter(QgsProcessingParameterRasterLayer(
            self.INPUT, self.tr("Reflectance bands (raster, Landsat 8/9 *_MTL.txt, or Sentinel-2 "
                                "MTD_MSIL2A.xml)")))
        self.add_parameter(QgsProcessingParameterRasterLayer(self.DEM, self.tr("DEM")))
        self.add_parameter(QgsProcessingParameterBand(
            self.DEM_BAND, self.tr("Elevation band"), defaultValue=1, parentLayerParameterName=self.DEM,
            optional=True), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.METHOD, self.tr("Method"), options=[self.tr(METHOD_LABELS[m]) for m in METHODS],
            defaultValue=1))
        for name, label, maximum in ((self.SUN_AZIMUTH, "Sun azimuth (degrees from north)", 360.0),
                                     (self.SUN_ELEVATION, "Sun elevation (degrees)", 90.0)):
            self.add_parameter(QgsProcessingParameterNumber(
                name, self.tr(label), NUMBER_DOUBLE, optional=True,
                minValue=-90.0 if name == self.SUN_ELEVATION else 0.0, maxValue=maximum))
        self.add_parameter(QgsProcessingParameterEnum(
            self.MASK, self.tr("QA classes set to nodata (product input)"), options=list(MASK_CLASSES),
            allowMultiple=True, optional=True,
            defaultValue=[MASK_CLASSES.index(name) for name in DEFAULT_MASK]), advanced=True)
        self.add_parameter(QgsProcessingParameterRasterLayer(
            self.FIT_MASK, self.tr("Fit the parameters only inside this mask (non-zero)"),
            optional=True), advanced=True)
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT, self.tr("Corrected bands")))
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_ILLUMINATION, self.tr("Illumination cos(i)"), optional=True,
            createByDefault=False))
        self.add_optional_file_output(self.OUTPUT_REPORT, "Correction report", "HTML files (*.html)")
        self.addOutput(QgsProcessingOutputNumber(
            self.MASKED_SHARE, self.tr("Share of the pixels with data masked by the QA band")))

    def checkParameterValues(self, parameters, context):
        """Accept a product metadata path as INPUT; check the rest."""
        if self.mtl_path(parameters, context) is None:
            return super().checkParameterValues(parameters, context)
        return self.check_all_but_input(parameters, context)

    def optional_raster(self, parameters, name, context):
        """Path of an optional raster parameter, None when empty."""
        if parameters.get(name) in (None, ""):
            return None
        path = self.raster_path(parameters, name, context)
        if path is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, name))
        return path

    def execute(self, parameters, context, feedback):
        """Resolve inputs, call core, return the outputs."""
        input_path = self.mtl_path(parameters, context)
        if input_path is None:
            input_path = self.raster_path(parameters, self.INPUT, context)
            if input_path is None:
                raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        dem = self.raster_path(parameters, self.DEM, context)
        if dem is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.DEM))
        dem_band = (self.parameterAsInt(parameters, self.DEM_BAND, context)
                    if parameters.get(self.DEM_BAND) not in (None, "") else 1)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        illumination = None
        if parameters.get(self.OUTPUT_ILLUMINATION) not in (None, ""):
            illumination = self.parameterAsOutputLayer(parameters, self.OUTPUT_ILLUMINATION, context)
        report = None
        if parameters.get(self.OUTPUT_REPORT) not in (None, ""):
            report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        result = run_topographic_correction(
            input_path, dem, output, method=METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
            sun_azimuth=self.optional_number(parameters, self.SUN_AZIMUTH, context),
            sun_elevation=self.optional_number(parameters, self.SUN_ELEVATION, context),
            dem_band=dem_band or 1, mask=self.mask_classes(parameters, context),
            fit_mask_path=self.optional_raster(parameters, self.FIT_MASK, context),
            illumination_path=illumination or None, report_path=report or None,
            monitor=self.monitor(feedback))
        outputs = {self.OUTPUT: output, self.MASKED_SHARE: result["masked_share"]}
        if illumination:
            outputs[self.OUTPUT_ILLUMINATION] = illumination
        if report:
            outputs[self.OUTPUT_REPORT] = report
        return outputs
