"""evaluatemodel: error report of a model against independent samples."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterFile, QgsProcessingParameterNumber)

from ..core.model_file import load_model
from ..core.reports.evaluation import write_evaluation_outputs
from ..core.workflows.common import check_model_factors
from ..core.workflows.evaluation import run_evaluation
from ..core.sampling import prepare_samples
from .base import SoilMetalAlgorithm
from .compat import NUMBER_DOUBLE


class EvaluateModelAlgorithm(SoilMetalAlgorithm):
    """RMSE, MRE, MAE and R2 of a model at sample points it was not trained on."""

    ALGORITHM_ID = "evaluatemodel"
    DISPLAY_NAME = "Evaluate model"
    GROUP = "modelling"

    MODEL = "MODEL"
    MODEL_PARAMETERS = (MODEL,)
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    INCLUDE_TRAINING = "INCLUDE_TRAINING"
    INTERVAL_COVERAGE = "INTERVAL_COVERAGE"

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        self.add_parameter(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model file"), extension="json"))
        self.add_sample_inputs("Evaluation sample points")
        self.add_parameter(QgsProcessingParameterBoolean(
            self.INCLUDE_TRAINING, self.tr("Keep samples the model was trained or validated on"),
            defaultValue=False), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.INTERVAL_COVERAGE, self.tr("Nominal coverage of the prediction intervals checked"),
            NUMBER_DOUBLE, defaultValue=0.9, minValue=0.01, maxValue=0.99),
            advanced=True)
        self.add_sample_options()
        self.add_optional_file_output(self.OUTPUT_REPORT, "Evaluation report", "HTML files (*.html)")
        self.add_optional_file_output(self.OUTPUT_TABLE, "Per-sample results", "CSV files (*.csv)")
        for name, label in (("RMSE", "RMSE (mg/kg)"), ("MRE", "MRE"), ("MAE", "MAE (mg/kg)"),
                            ("R2", "R2"), ("N", "Samples evaluated"),
                            ("N_EXCLUDED", "Samples left out (at the model's own samples)"),
                            ("COVERAGE", "Share of samples inside the prediction interval")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def execute(self, parameters, context, feedback):
        """Sample the factors at the points, predict, compare, write the report and table."""
        monitor = self.monitor(feedback)
        model_path = self.parameterAsFile(parameters, self.MODEL, context)
        model = load_model(model_path)
        points = self.read_points(parameters, self.POINTS, self.FIELD, context)
        sources = self.factor_sources(parameters, self.FACTORS, context)
        check_model_factors(model, sources)
        sampling, outliers, threshold = self.sample_options(parameters, context)
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        table_path = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None
        prepared = prepare_samples(points, sources, model.factor_names, sampling, outliers,
                                   threshold, 1, monitor)
        monitor.set_progress(30)
        run = run_evaluation(model, prepared, model_path, monitor.child(30, 90), field=points.field,
                             n_points=len(points), sampling=sampling, outlier_threshold=threshold,
                             include_training=self.parameterAsBoolean(
                                 parameters, self.INCLUDE_TRAINING, context),
                             crs_wkt=points.crs_wkt,
                             interval_coverage=self.parameterAsDouble(
                                 parameters, self.INTERVAL_COVERAGE, context))
        write_evaluation_outputs(run, report_path, table_path)
        monitor.set_progress(100)
        results = dict(run.summary)
        if report_path:
            results[self.OUTPUT_REPORT] = report_path
        if table_path:
            results[self.OUTPUT_TABLE] = table_path
        return results
