"""traingabp: a GA-BP model (GA-seeded 3-layer BP network trained by Levenberg-Marquardt)."""

import numpy as np

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from .compat import NUMBER_DOUBLE, NUMBER_INTEGER
from ..core.science.cv import DEFAULT_FOLDS, DEFAULT_SCHEME, SCHEME_LABELS
from ..core.science.cv_gabp import scheme_from_index
from ..core.science.gabp import DEFAULT_GOAL, MIN_TRAINING_SAMPLES, GABPSettings
from ..core.guards import MAX_SEED, check_factors_vary, check_training_samples
from ..core.reports.training import write_training_outputs
from ..core.science.splits import split_samples
from ..core.workflows.training import run_training
from ..core.science.network import n_params
from ..core.sampling import prepare_samples
from ..core.sensors import factor_sensor
from .base import SoilMetalAlgorithm


class TrainGaBpAlgorithm(SoilMetalAlgorithm):
    """Trains a GA-BP model on sample points and factor rasters, with a held-out validation."""

    ALGORITHM_ID = "traingabp"
    DISPLAY_NAME = "Train GA-BP model"
    GROUP = "modelling"

    FACTOR_NAMES = "FACTOR_NAMES"
    HIDDEN = "HIDDEN"
    POPULATION = "POPULATION"
    GENERATIONS = "GENERATIONS"
    CROSSOVER = "CROSSOVER"
    MUTATION = "MUTATION"
    EPOCHS = "EPOCHS"
    VALIDATION_FRACTION = "VALIDATION_FRACTION"
    ENSEMBLE = "ENSEMBLE"
    SEED = "SEED"
    GOAL = "GOAL"
    LOG_TARGET = "LOG_TARGET"
    ALLOW_FEW_SAMPLES = "ALLOW_FEW_SAMPLES"
    CV = "CV"
    FOLDS = "FOLDS"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_TABLE = "OUTPUT_TABLE"

    def initAlgorithm(self, config=None):
        """Declare parameters and outputs."""
        integer, double = NUMBER_INTEGER, NUMBER_DOUBLE
        self.add_sample_inputs()
        self.add_parameter(QgsProcessingParameterString(
            self.FACTOR_NAMES, self.tr("Factors to use (comma-separated; empty = all)"),
            defaultValue="", optional=True))
        self.add_parameter(QgsProcessingParameterNumber(
            self.HIDDEN, self.tr("Hidden neurons"), integer, defaultValue=4, minValue=1, maxValue=100))
        self.add_parameter(QgsProcessingParameterNumber(
            self.POPULATION, self.tr("GA population size"), integer, defaultValue=30, minValue=2,
            maxValue=10000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.GENERATIONS, self.tr("GA generations"), integer, defaultValue=50, minValue=0,
            maxValue=100000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.CROSSOVER, self.tr("GA crossover probability"), double, defaultValue=0.3,
            minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.MUTATION, self.tr("GA mutation probability"), double, defaultValue=0.1,
            minValue=0.0, maxValue=1.0))
        self.add_parameter(QgsProcessingParameterNumber(
            self.EPOCHS, self.tr("Levenberg-Marquardt epochs (maximum)"), integer, defaultValue=50,
            minValue=0, maxValue=100000))
        self.add_parameter(QgsProcessingParameterNumber(
            self.VALIDATION_FRACTION, self.tr("Share of samples held out for validation"), double,
            defaultValue=0.2, minValue=0.0, maxValue=0.9))
        self.add_parameter(QgsProcessingParameterNumber(
            self.ENSEMBLE, self.tr("Networks in the ensemble"), integer, defaultValue=1, minValue=1,
            maxValue=100))
        self.add_parameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), integer, defaultValue=0, minValue=0,
            maxValue=MAX_SEED))
        self.add_parameter(QgsProcessingParameterNumber(
            self.GOAL, self.tr("LM goal (share of variance left unexplained)"), double,
            defaultValue=DEFAULT_GOAL, minValue=0.0, maxValue=1.0), advanced=True)
        self.add_parameter(QgsProcessingParameterBoolean(
            self.LOG_TARGET, self.tr("Model log(content)"), defaultValue=False), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.CV, self.tr("Cross-validation"), options=[self.tr(label) for label in SCHEME_LABELS],
            defaultValue=DEFAULT_SCHEME))
        self.add_parameter(QgsProcessingParameterNumber(
            self.FOLDS, self.tr("Cross-validation folds"), integer, defaultValue=DEFAULT_FOLDS,
            minValue=2, maxValue=1000), advanced=True)
        self.add_parameter(QgsProcessingParameterBoolean(
            self.ALLOW_FEW_SAMPLES, self.tr("Train on fewer samples than the weights warrant (not recommended)"),
            defaultValue=False), advanced=True)
        self.add_sample_options()
        self.add_parameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Model file"), fileFilter="Model files (*.json)"))
        self.add_optional_file_output(self.OUTPUT_REPORT, "Training report", "HTML files (*.html)")
        self.add_optional_file_output(self.OUTPUT_TABLE, "Per-sample results", "CSV files (*.csv)")
        for name, label in (("RMSE", "Validation RMSE (mg/kg)"), ("MRE", "Validation MRE"),
                            ("R2", "Validation R2"), ("MAE", "Validation MAE (mg/kg)"),
                            ("N_TRAIN", "Training samples"), ("N_VALIDATION", "Validation samples"),
                            ("CV_RMSE", "Cross-validated RMSE (mg/kg)"),
                            ("CV_MRE", "Cross-validated MRE"), ("CV_R2", "Cross-validated R2"),
                            ("MEAN_CV_RMSE", "Cross-validated RMSE of the training mean (mg/kg)"),
                            ("MLR_CV_RMSE", "Cross-validated RMSE of linear regression (mg/kg)"),
                            ("RK_CV_RMSE", "Cross-validated RMSE of model + kriged residuals (mg/kg)")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def check_trainable(self, prepared, settings, parameters, context, monitor):
        """Refuse factors constant at the samples and too few training samples for the weights."""
        check_factors_vary(prepared.table.factors, monitor.warning)
        n_train = split_samples(len(prepared.table), self.parameterAsDouble(
            parameters, self.VALIDATION_FRACTION, context), np.random.default_rng(0)).train.size
        check_training_samples(n_train, n_params(prepared.table.factors.shape[1], settings.hidden),
                               self.parameterAsBoolean(parameters, self.ALLOW_FEW_SAMPLES, context),
                               monitor.warning)

    def execute(self, parameters, context, feedback):
        """Sample the factors, hold out the validation samples, train, write the outputs."""
        monitor = self.monitor(feedback)
        settings = GABPSettings(
            hidden=self.parameterAsInt(parameters, self.HIDDEN, context),
            population=self.parameterAsInt(parameters, self.POPULATION, context),
            generations=self.parameterAsInt(parameters, self.GENERATIONS, context),
            crossover=self.parameterAsDouble(parameters, self.CROSSOVER, context),
            mutation=self.parameterAsDouble(parameters, self.MUTATION, context),
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
            goal=self.parameterAsDouble(parameters, self.GOAL, context),
            ensemble=self.parameterAsInt(parameters, self.ENSEMBLE, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            log_target=self.parameterAsBoolean(parameters, self.LOG_TARGET, context))
        settings.validate()
        points = self.read_points(parameters, self.POINTS, self.FIELD, context)
        sources = self.factor_sources(parameters, self.FACTORS, context)
        names = self.factor_names(parameters, self.FACTOR_NAMES, context)
        sampling, outliers, threshold = self.sample_options(parameters, context)
        model_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context) or None
        table_path = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None

        prepared = prepare_samples(points, sources, names or None, sampling, outliers, threshold,
                                   MIN_TRAINING_SAMPLES, monitor)
        self.check_trainable(prepared, settings, parameters, context, monitor)
        monitor.set_progress(5)
        run = run_training(prepared, settings,
                           self.parameterAsDouble(parameters, self.VALIDATION_FRACTION, context),
                           monitor.child(5, 95), field=points.field, n_points=len(points),
                           sampling=sampling, outlier_threshold=threshold,
                           cv=scheme_from_index(self.parameterAsEnum(parameters, self.CV, context)),
                           folds=self.parameterAsInt(parameters, self.FOLDS, context),
                           crs_wkt=points.crs_wkt)
        run.model.sensor = factor_sensor(sources)
        figures = write_training_outputs(run, model_path, report_path, table_path)
        if figures:
            feedback.pushInfo(self.tr(f"Figure data for scripts: {figures}"))
        monitor.set_progress(100)
        results = {self.OUTPUT_MODEL: model_path, **run.summary}
        if report_path:
            results[self.OUTPUT_REPORT] = report_path
        if table_path:
            results[self.OUTPUT_TABLE] = table_path
        return results
