"""topographiccorrection: terrain illumination correction of reflectance bands with a DEM."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBand, QgsProcessingParameterEnum,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from .compat import NUMBER_DOUBLE
from ..core.science.qa_masks import DEFAULT_MASK, MASK_CLASSES
from ..core.science.topographic import METHOD_LABELS, METHODS
from ..core.reports.topographic import write_topographic_report
from ..core.workflows.topographic_correction import run_topographic_correction
from .factor_inputs import FactorAlgorithm


class TopographicCorrectionAlgorithm(FactorAlgorithm):
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
        if self.product_path(parameters, context) is None:
            return super().checkParameterValues(parameters, context)
        return self.check_all_but_input(parameters, context)

    @staticmethod
    def optional_destination(parameters, name, context, read):
        """The path `read` (parameterAsOutputLayer or parameterAsFileOutput) gives for an optional
        output, None when it is not asked for."""
        if parameters.get(name) in (None, ""):
            return None
        return read(parameters, name, context) or None

    def execute(self, parameters, context, feedback):
        """Resolve inputs, run the workflow, write its report, return the outputs."""
        input_path = (self.product_path(parameters, context)
                      or self.required_raster(parameters, self.INPUT, context))
        dem = self.required_raster(parameters, self.DEM, context)
        dem_band = (self.parameterAsInt(parameters, self.DEM_BAND, context)
                    if parameters.get(self.DEM_BAND) not in (None, "") else 1)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        illumination = self.optional_destination(parameters, self.OUTPUT_ILLUMINATION, context,
                                                 self.parameterAsOutputLayer)
        report = self.optional_destination(parameters, self.OUTPUT_REPORT, context, self.parameterAsFileOutput)
        run = run_topographic_correction(
            input_path, dem, output, method=METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
            sun_azimuth=self.optional_number(parameters, self.SUN_AZIMUTH, context),
            sun_elevation=self.optional_number(parameters, self.SUN_ELEVATION, context),
            dem_band=dem_band or 1, mask=self.mask_classes(parameters, context),
            fit_mask_path=self.optional_raster(parameters, self.FIT_MASK, context),
            illumination_path=illumination, monitor=self.monitor(feedback))
        if report:
            write_topographic_report(run, report)
        written = {self.OUTPUT_ILLUMINATION: illumination, self.OUTPUT_REPORT: report}
        return {self.OUTPUT: output, self.MASKED_SHARE: run.masked_share,
                **{name: path for name, path in written.items() if path}}
