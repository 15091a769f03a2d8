"""contentstatistics: the paper's Tables 6 and 7 for a content map, and an optional Igeo / CF raster."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBand,
                       QgsProcessingParameterEnum, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)

from .compat import NUMBER_DOUBLE
from ..core.errors import SoilMetalError
from ..core.reports.statistics import write_statistics_outputs
from ..core.science.content_stats import parse_class_breaks
from ..core.workflows.statistics import DEFAULT_CLASS_BREAKS, index_raster, is_auto, run_content_statistics
from .base import SoilMetalAlgorithm
from ..styles.rasters import style_output


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
    # core.science.map_shares result key of each number output
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
        for name, label in ((self.REFERENCE_MEAN, self.tr("Reference (background) mean, mg/kg")),
                            (self.REFERENCE_MAX, self.tr("Reference maximum, mg/kg"))):
            self.add_parameter(QgsProcessingParameterNumber(
                name, label, NUMBER_DOUBLE, optional=True,
                minValue=0.0, maxValue=1e6))
        self.add_parameter(QgsProcessingParameterString(
            self.CLASS_BREAKS, self.tr("Class breaks, mg/kg (comma-separated, or auto)"),
            defaultValue=DEFAULT_CLASS_BREAKS))
        # In the order of core.science.pollution_index.INDEX_SPECS.
        self.add_parameter(QgsProcessingParameterEnum(
            self.INDEX, self.tr("Pollution index"), options=[
                self.tr("Geo-accumulation index Igeo = log2(C / (1.5 B)) (M\u00fcller (1969) classes)"),
                self.tr("Contamination factor CF = C / B (Hakanson (1980) classes)")],
            defaultValue=0))
        for name, label in ((self.REFERENCE_MIN, self.tr("Reference minimum, mg/kg (report only)")),
                            (self.REFERENCE_STD, self.tr("Reference standard deviation, mg/kg (report only)"))):
            self.add_parameter(QgsProcessingParameterNumber(
                name, label, NUMBER_DOUBLE, optional=True,
                minValue=0.0, maxValue=1e6), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.THRESHOLD, self.tr("Threshold, mg/kg (e.g. a guideline value)"),
            NUMBER_DOUBLE, optional=True, minValue=0.0, maxValue=1e6))
        self.add_parameter(QgsProcessingParameterRasterLayer(
            self.AOA, self.tr("Area of applicability (DI or 0/1 mask)"), optional=True))
        for name, label in ((self.LOWER, self.tr("Lower bound map (interval of the area above the threshold)")),
                            (self.UPPER, self.tr("Upper bound map (interval of the area above the threshold)")),
                            (self.EXCEEDANCE, self.tr("Exceedance probability map (for the threshold)"))):
            self.add_parameter(QgsProcessingParameterRasterLayer(name, label, optional=True),
                               advanced=True)
        self.add_optional_file_output(self.OUTPUT_TABLE, "Statistics table", "CSV files (*.csv)")
        self.add_optional_file_output(self.OUTPUT_REPORT, "Statistics report", "HTML files (*.html)")
        self.add_parameter(QgsProcessingParameterRasterDestination(
            self.OUTPUT_INDEX, self.tr("Pollution index map"), optional=True, createByDefault=False))
        for name, label in (
                ("MIN", self.tr("Minimum")), ("MAX", self.tr("Maximum")), ("MEAN", self.tr("Mean")),
                ("STD", self.tr("Standard deviation")), ("COUNT", self.tr("Valid pixels")),
                ("PERCENT_ABOVE_REFERENCE_MAX", self.tr("Percent of area above the reference maximum")),
                ("PERCENT_ABOVE_THRESHOLD", self.tr("Percent of area above the threshold")),
                ("PERCENT_ABOVE_THRESHOLD_LOW", self.tr("Percent of area above the threshold, low end")),
                ("PERCENT_ABOVE_THRESHOLD_HIGH", self.tr("Percent of area above the threshold, high end")),
                ("PERCENT_ABOVE_THRESHOLD_EXPECTED", self.tr("Expected percent of area above the threshold")),
                ("AOA_SHARE", self.tr("Share of the map inside the area of applicability"))):
            self.addOutput(QgsProcessingOutputNumber(name, label))

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
        index_path = self.parameterAsOutputLayer(parameters, self.OUTPUT_INDEX, context) or None
        table_path = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        run = run_content_statistics(**self.run_settings(parameters, context),
                                     index_writer=index_raster(index_path), monitor=self.monitor(feedback))
        write_statistics_outputs(run, table_path, report_path, index_path)
        if index_path:
            style_output(context, index_path, run.index.kind, run.name, feedback=feedback)
        results = self.number_results(run)
        for name, path_out in ((self.OUTPUT_TABLE, table_path), (self.OUTPUT_REPORT, report_path),
                               (self.OUTPUT_INDEX, index_path)):
            if path_out:
                results[name] = path_out
        return results

    def run_settings(self, parameters, context):
        """The content map, its band and classes, the references, index and companion maps as
        keyword arguments of run_content_statistics."""
        number = {name: self.optional_number(parameters, name, context) for name in (
            self.REFERENCE_MEAN, self.REFERENCE_MAX, self.REFERENCE_MIN, self.REFERENCE_STD, self.THRESHOLD)}
        companion = {name: self.raster_path(parameters, name, context)
                     for name in (self.LOWER, self.UPPER, self.EXCEEDANCE, self.AOA)}
        return {"path": self.raster_path(parameters, self.INPUT, context),
                "band": self.parameterAsInt(parameters, self.BAND, context) or 1,
                "class_breaks": self.parameterAsString(parameters, self.CLASS_BREAKS, context),
                "reference_mean": number[self.REFERENCE_MEAN], "reference_max": number[self.REFERENCE_MAX],
                "reference_min": number[self.REFERENCE_MIN], "reference_std": number[self.REFERENCE_STD],
                "index": self.parameterAsEnum(parameters, self.INDEX, context),
                "layer_name": self.parameterAsRasterLayer(parameters, self.INPUT, context).name(),
                "threshold": number[self.THRESHOLD], "lower_path": companion[self.LOWER],
                "upper_path": companion[self.UPPER], "exceedance_path": companion[self.EXCEEDANCE],
                "aoa_path": companion[self.AOA]}

    def number_results(self, run):
        """The run's numbers as the number outputs (plain Python numbers: a NumPy scalar does not
        survive the trip through QVariant)."""
        stats = run.stats
        results = {"MIN": float(stats["min"]), "MAX": float(stats["max"]),
                   "MEAN": float(stats["mean"]), "STD": float(stats["std"]),
                   "COUNT": int(stats["count"])}
        if run.reference["max"] is not None:
            results["PERCENT_ABOVE_REFERENCE_MAX"] = float(run.percent_above_reference_max)
        if run.shares is not None:
            for name, key in self.SHARE_OUTPUTS:
                if run.shares[key] is not None:
                    results[name] = float(run.shares[key])
            if run.shares["percent_inside_aoa"] is not None:
                results["AOA_SHARE"] = float(run.shares["percent_inside_aoa"]) / 100.0
        return results
