"""contentstatistics: the paper's Tables 6 and 7 for a content map, and an optional Igeo / CF raster."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBand,
                       QgsProcessingParameterEnum, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)

from .compat import NUMBER_DOUBLE
from ..core.science.content_stats import parse_class_breaks
from ..core.errors import SoilMetalError
from ..core.statistics_run import DEFAULT_CLASS_BREAKS, INDEX_LABELS, is_auto, run_content_statistics
from .base import SoilMetalAlgorithm
from .styling import style_output


class ContentStatisticsAlgorithm(SoilMetalAlgorithm):
    """Statistics of a content map against reference values, class shares, pollution index."""

    ALGORITHM_ID = "contentstatistics"
    DISPLAY_NAME = "Content statistics and pollution index"
    GROUP = "mapping"

    INPUT = "INPUT"
    BAND = "BAND"
    REFERENCE_MEAN = "REFERENCE_MEAN"
    REFERENCE_MAX = "REFERENCE_MAX"
    REFERENCE_MIN = "REFERENCE_MIN"
    REFERENCE_STD = "REFERENCE_STD"
    CLASS_BREAKS = "CLASS_BREAKS"
    INDEX = "INDEX"
    THRESHOLD = "THRESHOLD"
    LOWER = "LOWER"
    UPPER = "UPPER"
    EXCEEDANCE = "EXCEEDANCE"
    AOA = "AOA"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_INDEX = "OUTPUT_INDEX"
    NUMBER_OUTPUTS = (("MIN", "Minimum"), ("MAX", "Maximum"), ("MEAN", "Mean"),
                      ("STD", "Standard deviation"), ("COUNT", "Valid pixels"),
                      ("PERCENT_ABOVE_REFERENCE_MAX", "Percent of area above the reference maximum"),
                      ("PERCENT_ABOVE_THRESHOLD", "Percent of area above the threshold"),
                      ("PERCENT_ABOVE_THRESHOLD_LOW", "Percent of area above the threshold, low end"),
                      ("PERCENT_ABOVE_THRESHOLD_HIGH", "Percent of area above the threshold, high end"),
                      ("PERCENT_ABOVE_THRESHOLD_EXPECTED", "Expected percent of area above the threshold"),
                      ("AOA_SHARE", "Share of the map inside the area of applicability"))
    # core.map_shares result key of each number output
    SHARE_OUTPUTS = (("PERCENT_ABOVE_THRESHOLD", "percent_above"),
                     ("PERCENT_ABOVE_THRESHOLD_LOW", "percent_above_low"),
                     ("PERCENT_ABOVE_THRESHOLD_HIGH", "percent_above_high"),
                     ("PERCENT_ABOVE_THRESHOLD_EXPECTED", "percent_above_expected"))

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_parameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Content map")))
        self.add_parameter(QgsProcessingParameterBand(
            self.BAND, self.tr("Band"), defaultValue=1, parentLayerParameterName=self.INPUT,
            optional=True),
            advanced=True)
        for name, label in ((self.REFERENCE_MEAN, "Reference (background) mean, mg/kg"),
                            (self.REFERENCE_MAX, "Reference maximum, mg/kg")):
            self.add_parameter(QgsProcessingParameterNumber(
                name, self.tr(label), NUMBER_DOUBLE, optional=True,
                minValue=0.0, maxValue=1e6))
        self.add_parameter(QgsProcessingParameterString(
            self.CLASS_BREAKS, self.tr("Class breaks, mg/kg (comma-separated, or auto)"),
            defaultValue=DEFAULT_CLASS_BREAKS))
        self.add_parameter(QgsProcessingParameterEnum(
            self.INDEX, self.tr("Pollution index"), options=[self.tr(label) for label in INDEX_LABELS],
            defaultValue=0))
        for name, label in ((self.REFERENCE_MIN, "Reference minimum, mg/kg (report only)"),
                            (self.REFERENCE_STD, "Reference standard deviation, mg/kg (report only)")):
            self.add_parameter(QgsProcessingParameterNumber(
                name, self.tr(label), NUMBER_DOUBLE, optional=True,
                minValue=0.0, maxValue=1e6), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.THRESHOLD, self.tr("Threshold, mg/kg (e.g. a guideline value)"),
            NUMBER_DOUBLE, optional=True, minValue=0.0, maxValue=1e6))
        self.add_parameter(QgsProcessingParameterRasterLayer(
            self.AOA, self.tr("Area of applicability (DI or 0/1 mask)"), optional=True))
        for name, label in ((self.LOWER, "Lower bound map (interval of the area above the threshold)"),
                            (self.UPPER, "Upper bound map (interval of the area above the threshold)"),
                            (self.EXCEEDANCE, "Exceedance probability map (for the threshold)")):
            self.add_parameter(QgsProcessingParameterRasterLayer(name, self.tr(label), optional=True),
                               advanced=True)
        self.add_optional_file_output(self.OUTPUT_TABLE, "Statistics table", "CSV files (*.csv)")
        self.add_optional_file_output(self.OUTPUT_REPORT, "Statistics report", "HTML files (*.html)")
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_INDEX, self.tr("Pollution index map"), optional=True, createByDefault=False))
        for name, label in self.NUMBER_OUTPUTS:
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def checkParameterValues(self, parameters, context):
        """Refuse bad class breaks, or an index map without a background, before the run."""
        try:
            breaks = self.parameterAsString(parameters, self.CLASS_BREAKS, context)
            if not is_auto(breaks):
                parse_class_breaks(breaks)
        except SoilMetalError as error:
            return False, f"CLASS_BREAKS: {error}"
        wants_index = parameters.get(self.OUTPUT_INDEX) is not None and bool(
            self.parameterAsOutputLayer(parameters, self.OUTPUT_INDEX, context))
        if wants_index and self.optional_number(parameters, self.REFERENCE_MEAN, context) is None:
            return False, self.tr(
                "OUTPUT_INDEX needs REFERENCE_MEAN: the index compares the content with a "
                "background value. Set REFERENCE_MEAN (e.g. 21.4 mg/kg for Cu in Shaanxi), or "
                "leave OUTPUT_INDEX empty.")
        return super().checkParameterValues(parameters, context)

    def execute(self, parameters, context, feedback):
        """Run the block-wise statistics and return the numbers and written files."""
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        path = self.raster_path(parameters, self.INPUT, context)
        index_path = self.parameterAsOutputLayer(parameters, self.OUTPUT_INDEX, context) or None
        table_path = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        reference_max = self.optional_number(parameters, self.REFERENCE_MAX, context)
        run = run_content_statistics(
            path, band=self.parameterAsInt(parameters, self.BAND, context) or 1,
            class_breaks=self.parameterAsString(parameters, self.CLASS_BREAKS, context),
            reference_mean=self.optional_number(parameters, self.REFERENCE_MEAN, context),
            reference_max=reference_max,
            reference_min=self.optional_number(parameters, self.REFERENCE_MIN, context),
            reference_std=self.optional_number(parameters, self.REFERENCE_STD, context),
            index=self.parameterAsEnum(parameters, self.INDEX, context), index_path=index_path,
            table_path=table_path, report_path=report_path, layer_name=layer.name(),
            monitor=self.monitor(feedback),
            threshold=self.optional_number(parameters, self.THRESHOLD, context),
            lower_path=self.raster_path(parameters, self.LOWER, context),
            upper_path=self.raster_path(parameters, self.UPPER, context),
            exceedance_path=self.raster_path(parameters, self.EXCEEDANCE, context),
            aoa_path=self.raster_path(parameters, self.AOA, context))
        stats = run.stats
        # Plain Python numbers: a NumPy scalar does not survive the trip through QVariant.
        results = {"MIN": float(stats["min"]), "MAX": float(stats["max"]),
                   "MEAN": float(stats["mean"]), "STD": float(stats["std"]),
                   "COUNT": int(stats["count"])}
        if reference_max is not None:
            results["PERCENT_ABOVE_REFERENCE_MAX"] = float(run.percent_above_reference_max)
        if run.shares is not None:
            for name, key in self.SHARE_OUTPUTS:
                if run.shares[key] is not None:
                    results[name] = float(run.shares[key])
            if run.shares["percent_inside_aoa"] is not None:
                results["AOA_SHARE"] = float(run.shares["percent_inside_aoa"]) / 100.0
        for name, path_out in ((self.OUTPUT_TABLE, table_path), (self.OUTPUT_REPORT, report_path),
                               (self.OUTPUT_INDEX, index_path)):
            if path_out:
                results[name] = path_out
        if index_path:
            style_output(context, index_path, run.index.kind, run.name, feedback=feedback)
        return results
