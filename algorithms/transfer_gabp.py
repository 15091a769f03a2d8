"""transfergabp: Tr-GA-BP, a source GA-BP model transferred to a new period with few samples."""

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterEnum,
                       QgsProcessingParameterFile, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterNumber, QgsProcessingParameterString)

from .compat import NUMBER_DOUBLE, NUMBER_INTEGER
from ..core.science.cv import DEFAULT_FOLDS, DEFAULT_SCHEME, SCHEME_LABELS
from ..core.science.cv_gabp import scheme_from_index
from ..core.errors import SoilMetalError
from ..core.science.gabp import MIN_TRAINING_SAMPLES
from ..core.guards import MAX_SEED
from ..core.model_file import file_sha256, load_model
from ..core.reports.transfer import write_transfer_outputs
from ..core.workflows.common import check_model_factors
from ..core.workflows.transfer import run_transfer
from ..core.sampling import prepare_samples
from ..core.sensors import factor_sensor
from ..core.science.transfer import (
    DEFAULT_OUTPUT_ANCHOR,
    DEFAULT_PENALTY,
    METHODS as TRANSFER_METHODS,
    TransferSettings,
    parse_beta_grid,
)
from .base import SoilMetalAlgorithm

METHOD_LABELS = ("Gradient descent (the paper)", "Levenberg-Marquardt")
assert len(METHOD_LABELS) == len(TRANSFER_METHODS)


class TransferGaBpAlgorithm(SoilMetalAlgorithm):
    """Transfers a GA-BP model to target samples and compares it with GA-BP from scratch."""

    ALGORITHM_ID = "transfergabp"
    DISPLAY_NAME = "Transfer GA-BP model (Tr-GA-BP)"
    GROUP = "modelling"

    SOURCE_MODEL = "SOURCE_MODEL"
    MODEL_PARAMETERS = (SOURCE_MODEL,)
    TRAIN_SAMPLES = "TRAIN_SAMPLES"
    VALIDATION_FRACTION = "VALIDATION_FRACTION"
    BETA_GRID = "BETA_GRID"
    LEARNING_RATE = "LEARNING_RATE"
    EPOCHS = "EPOCHS"
    ENSEMBLE = "ENSEMBLE"
    SEED = "SEED"
    PENALTY = "PENALTY"
    OUTPUT_ANCHOR = "OUTPUT_ANCHOR"
    METHOD = "METHOD"
    CV = "CV"
    FOLDS = "FOLDS"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT_BASELINE_MODEL = "OUTPUT_BASELINE_MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    VERDICT = "VERDICT"

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        integer, double = NUMBER_INTEGER, NUMBER_DOUBLE
        self.add_parameter(QgsProcessingParameterFile(
            self.SOURCE_MODEL, self.tr("Source model file"), extension="json"))
        self.add_sample_inputs("Target sample points", factors_label="Factor rasters of the target period")
        self.add_parameter(QgsProcessingParameterNumber(
            self.TRAIN_SAMPLES, self.tr("Target samples for retraining"), integer, defaultValue=16,
            minValue=MIN_TRAINING_SAMPLES, maxValue=100000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.VALIDATION_FRACTION, self.tr("Share of the other samples used for validation"),
            double, defaultValue=0.2, minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterString(
            self.BETA_GRID, self.tr("Beta grid (start:stop:step or a list)"), defaultValue="0:1:0.1"))
        self.add_parameter(QgsProcessingParameterNumber(
            self.LEARNING_RATE, self.tr("Learning rate"), double, defaultValue=0.1, minValue=1e-9, maxValue=100.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.EPOCHS, self.tr("Retraining epochs (maximum)"), integer, defaultValue=500, minValue=0,
            maxValue=1000000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.ENSEMBLE, self.tr("Networks in the ensemble"), integer, defaultValue=1, minValue=1,
            maxValue=100))
        self.add_parameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), integer, defaultValue=0, minValue=0,
            maxValue=MAX_SEED))
        self.add_parameter(QgsProcessingParameterNumber(
            self.PENALTY, self.tr("Penalty keeping W_T near beta * W_S"), double,
            defaultValue=DEFAULT_PENALTY, minValue=0.0, maxValue=1e6), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.OUTPUT_ANCHOR, self.tr("Share of the penalty on the output layer"), double,
            defaultValue=DEFAULT_OUTPUT_ANCHOR, minValue=0.0, maxValue=1.0), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.METHOD, self.tr("Optimiser"), options=[self.tr(label) for label in METHOD_LABELS],
            defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.CV, self.tr("Cross-validation on all target samples"),
            options=[self.tr(label) for label in SCHEME_LABELS], defaultValue=DEFAULT_SCHEME))
        self.add_parameter(QgsProcessingParameterNumber(
            self.FOLDS, self.tr("Cross-validation folds"), integer, defaultValue=DEFAULT_FOLDS,
            minValue=2, maxValue=1000), advanced=True)
        self.add_sample_options()
        self.add_parameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Transferred model file"), fileFilter="Model files (*.json)"))
        self.add_optional_file_output(self.OUTPUT_BASELINE_MODEL, "GA-BP from scratch model file",
                                      "Model files (*.json)")
        self.add_optional_file_output(self.OUTPUT_REPORT, "Transfer report", "HTML files (*.html)")
        self.add_optional_file_output(self.OUTPUT_TABLE, "Per-sample results", "CSV files (*.csv)")
        for name, label in (("RMSE", "Tr-GA-BP validation RMSE (mg/kg)"),
                            ("MRE", "Tr-GA-BP validation MRE"), ("R2", "Tr-GA-BP validation R2"),
                            ("MAE", "Tr-GA-BP validation MAE (mg/kg)"),
                            ("BETA", "Median beta of the networks"),
                            ("BASELINE_RMSE", "GA-BP from scratch validation RMSE (mg/kg)"),
                            ("BASELINE_MRE", "GA-BP from scratch validation MRE"),
                            ("SOURCE_RMSE", "Source model unchanged validation RMSE (mg/kg)"),
                            ("SOURCE_MRE", "Source model unchanged validation MRE"),
                            ("N_TRAIN", "Retraining samples"), ("N_VALIDATION", "Validation samples"),
                            ("CV_RMSE", "Tr-GA-BP cross-validated RMSE (mg/kg)"),
                            ("CV_MRE", "Tr-GA-BP cross-validated MRE"),
                            ("CV_R2", "Tr-GA-BP cross-validated R2"),
                            ("MEAN_CV_RMSE", "Training mean cross-validated RMSE (mg/kg)"),
                            ("MLR_CV_RMSE", "Linear regression cross-validated RMSE (mg/kg)"),
                            ("BASELINE_CV_RMSE", "GA-BP from scratch cross-validated RMSE (mg/kg)"),
                            ("SOURCE_CV_RMSE", "Source model unchanged cross-validated RMSE (mg/kg)"),
                            ("RK_CV_RMSE", "Tr-GA-BP + kriged residuals cross-validated RMSE (mg/kg)")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))
        self.addOutput(QgsProcessingOutputString(self.VERDICT, self.tr(
            "Verdict: helps, negative or no detectable difference")))

    def checkParameterValues(self, parameters, context):
        """Refuse an unreadable beta grid (and, in the base class, a bad model file) before the run."""
        try:
            parse_beta_grid(self.parameterAsString(parameters, self.BETA_GRID, context))
        except SoilMetalError as error:
            return False, str(error)
        return super().checkParameterValues(parameters, context)

    def execute(self, parameters, context, feedback):
        """Sample the target factors, transfer, train the baseline, write the outputs."""
        monitor = self.monitor(feedback)
        source_path = self.parameterAsFile(parameters, self.SOURCE_MODEL, context)
        source = load_model(source_path)
        seed = self.parameterAsInt(parameters, self.SEED, context)
        settings = TransferSettings(
            beta_grid=parse_beta_grid(self.parameterAsString(parameters, self.BETA_GRID, context)),
            learning_rate=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
            penalty=self.parameterAsDouble(parameters, self.PENALTY, context),
            output_anchor=self.parameterAsDouble(parameters, self.OUTPUT_ANCHOR, context),
            method=TRANSFER_METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
            seed=seed)
        settings.validate()
        points = self.read_points(parameters, self.POINTS, self.FIELD, context)
        sources = self.factor_sources(parameters, self.FACTORS, context)
        check_model_factors(source, sources, "The source model")
        sampling, outliers, threshold = self.sample_options(parameters, context)
        model_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        baseline_path = self.parameterAsFileOutput(
            parameters, self.OUTPUT_BASELINE_MODEL, context) or None
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        table_path = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None

        prepared = prepare_samples(points, sources, source.factor_names, sampling, outliers,
                                   threshold, MIN_TRAINING_SAMPLES, monitor)
        monitor.set_progress(5)
        run = run_transfer(
            source, source_path, prepared, settings,
            train_samples=self.parameterAsInt(parameters, self.TRAIN_SAMPLES, context),
            validation_fraction=self.parameterAsDouble(parameters, self.VALIDATION_FRACTION, context),
            ensemble=self.parameterAsInt(parameters, self.ENSEMBLE, context),
            monitor=monitor.child(5, 95), field=points.field, n_points=len(points),
            sampling=sampling, outlier_threshold=threshold, source_sha256=file_sha256(source_path),
            cv=scheme_from_index(self.parameterAsEnum(parameters, self.CV, context)),
            folds=self.parameterAsInt(parameters, self.FOLDS, context), crs_wkt=points.crs_wkt)
        run.model.sensor = run.baseline.sensor = factor_sensor(sources)
        figures = write_transfer_outputs(run, model_path, report_path, table_path, baseline_path)
        if figures:
            feedback.pushInfo(self.tr(f"Figure data for scripts: {figures}"))
        monitor.set_progress(100)
        results = {self.OUTPUT_MODEL: model_path, **run.summary}
        for name, path in ((self.OUTPUT_BASELINE_MODEL, baseline_path),
                           (self.OUTPUT_REPORT, report_path), (self.OUTPUT_TABLE, table_path)):
            if path:
                results[name] = path
        return results
