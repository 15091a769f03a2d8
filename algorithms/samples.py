"""The base of the algorithms that read soil samples at factor rasters (selectfactors,
traingabp, transfergabp, evaluatemodel): their shared inputs, the samples read once from
them, and the execute sequence they share (read samples, run the step, write, return)."""

from qgis.core import (QgsCoordinateReferenceSystem, QgsProcessingException,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber, QgsWkbTypes)

from .base import SoilMetalAlgorithm
from .compat import FIELD_NUMERIC, GEOMETRY_POINT, NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_RASTER, \
    SOURCE_VECTOR_POINT
from ..core.guards import MAX_SEED, check_unique_names
from ..core.sampling import (SAMPLING_LABELS, SAMPLING_METHODS, PointSet, SampleInputs,
                             parse_factor_names)
from ..core.science.cv import DEFAULT_FOLDS, DEFAULT_SCHEME, SCHEME_LABELS
from ..core.science.cv_gabp import scheme_from_index
from ..core.science.outliers import LABELS as OUTLIER_LABELS
from ..core.science.outliers import METHODS as OUTLIER_METHODS

# Attribute fields taken as the sample identifier, in order of preference.
ID_FIELD_CANDIDATES = ("sample_id", "SAMPLE_ID", "id", "ID", "Id", "name", "NAME")


def _numeric_fields(fields, leave_out=()):
    """The numeric field names of a layer as text for a message ('none' when there is none)."""
    return ", ".join(f.name() for f in fields if f.isNumeric() and f.name().lower() not in leave_out) \
        or "none"


class SampleAlgorithm(SoilMetalAlgorithm):
    """An algorithm that reads soil samples at factor rasters: POINTS, FIELD, FACTORS and the
    advanced sample options, read once into a core.sampling.SampleInputs."""

    POINTS = "POINTS"
    FIELD = "FIELD"
    FACTORS = "FACTORS"
    SAMPLING = "SAMPLING"
    OUTLIERS = "OUTLIERS"
    OUTLIERS_THRESHOLD = "OUTLIERS_THRESHOLD"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    # The file destinations the report writer takes, in the order of its path arguments.
    FILE_OUTPUTS = ()

    def add_sample_inputs(self, points_label="Sample points", factors_label="Factor rasters"):
        """Declare POINTS (point layer), FIELD (its numeric field) and FACTORS (rasters)."""
        self.add_parameter(QgsProcessingParameterFeatureSource(
            self.POINTS, self.tr(points_label), [SOURCE_VECTOR_POINT]))
        self.add_parameter(QgsProcessingParameterField(
            self.FIELD, self.tr("Measured content field (mg/kg)"), parentLayerParameterName=self.POINTS,
            type=FIELD_NUMERIC))
        self.add_parameter(QgsProcessingParameterMultipleLayers(
            self.FACTORS, self.tr(factors_label), SOURCE_RASTER))

    def add_sample_options(self):
        """Declare the advanced SAMPLING, OUTLIERS and OUTLIERS_THRESHOLD parameters."""
        self.add_parameter(QgsProcessingParameterEnum(
            self.SAMPLING, self.tr("Factor value at a point"),
            options=[self.tr(label) for label in SAMPLING_LABELS], defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterEnum(
            self.OUTLIERS, self.tr("Remove outlying measured values"),
            options=[self.tr(label) for label in OUTLIER_LABELS], defaultValue=0), advanced=True)
        self.add_parameter(QgsProcessingParameterNumber(
            self.OUTLIERS_THRESHOLD, self.tr("Outlier threshold (IQR k or |z|)"),
            NUMBER_DOUBLE, optional=True, minValue=0.0, maxValue=100.0),
            advanced=True)

    def add_report_and_table(self, report_label, table_label, table_first=False):
        """Declare the optional OUTPUT_REPORT (HTML) and OUTPUT_TABLE (CSV) files."""
        report = (self.OUTPUT_REPORT, report_label, "HTML files (*.html)")
        table = (self.OUTPUT_TABLE, table_label, "CSV files (*.csv)")
        for name, label, file_filter in ((table, report) if table_first else (report, table)):
            self.add_optional_file_output(name, label, file_filter)

    def factor_names(self, parameters, name, context):
        """A comma-separated list of factor names; a name given twice is an error."""
        names = parse_factor_names(self.parameterAsString(parameters, name, context))
        check_unique_names(names, name)
        return names

    def read_samples(self, parameters, context):
        """The points, factor rasters and sample options of a run -> SampleInputs."""
        return SampleInputs(
            points=self.read_points(parameters, context),
            sources=self.factor_sources(parameters, self.FACTORS, context),
            sampling=SAMPLING_METHODS[self.parameterAsEnum(parameters, self.SAMPLING, context)],
            outliers=OUTLIER_METHODS[self.parameterAsEnum(parameters, self.OUTLIERS, context)],
            outlier_threshold=self.optional_number(parameters, self.OUTLIERS_THRESHOLD, context))

    def run_on_samples(self, parameters, context, feedback, step, writer):
        """The execute sequence of a sample algorithm: read the samples, run step(samples,
        monitor) -> Run, write it with writer(run, *paths of FILE_OUTPUTS), and return the run's
        summary with the paths of the files written."""
        monitor = self.monitor(feedback)
        samples = self.read_samples(parameters, context)
        paths = [self.parameterAsFileOutput(parameters, name, context) or None
                 for name in self.FILE_OUTPUTS]
        run = step(samples, monitor)
        figures = writer(run, *paths)
        if figures:
            monitor.info(self.tr("Figure data for scripts: {}").format(figures))
        monitor.set_progress(100)
        return {**run.summary, **{name: path for name, path in zip(self.FILE_OUTPUTS, paths) if path}}

    def _measured_field(self, parameters, fields, context):
        """(FIELD as given, its index in fields), refusing a missing, non-numeric or feature-id field."""
        field = self.parameterAsString(parameters, self.FIELD, context)
        index = fields.lookupField(field)
        if index < 0:
            raise QgsProcessingException(self.tr(
                "{name}: the points have no field '{field}'. Numeric fields available: "
                "{available}.").format(name=self.FIELD, field=field, available=_numeric_fields(fields)))
        if field.lower() == "fid" and self._is_feature_id(parameters, index, context):
            raise QgsProcessingException(self.tr(
                "{name}: '{field}' is the layer's feature id, not a measurement. Choose the field "
                "that holds the measured content in mg/kg (numeric fields: {available}).").format(
                    name=self.FIELD, field=field, available=_numeric_fields(fields, ("fid",))))
        if not fields.at(index).isNumeric():
            raise QgsProcessingException(self.tr(
                "{name}: field '{field}' is of type {type}, not numeric. Choose the field that holds "
                "the measured content in mg/kg (numeric fields: {available}), or convert it with the "
                "Field calculator (to_real).").format(name=self.FIELD, field=field,
                                                      type=fields.at(index).typeName(),
                                                      available=_numeric_fields(fields)))
        return field, index

    def _is_feature_id(self, parameters, index, context):
        """True when field `index` of the points is its provider's primary key (GeoPackage fid)."""
        layer = self.parameterAsVectorLayer(parameters, self.POINTS, context)
        if layer is None:
            return True  # a name 'fid' that cannot be checked: a measured field is never called so
        return index in layer.primaryKeyAttributes()

    def _point_of(self, feature):
        """The location of a point feature; a MultiPoint of one point counts as that point."""
        geometry = feature.geometry()
        if QgsWkbTypes.geometryType(geometry.wkbType()) != GEOMETRY_POINT:
            raise QgsProcessingException(self.tr(
                "{name}: the layer must hold points (sample locations), not {type}.").format(
                    name=self.POINTS, type=QgsWkbTypes.displayString(geometry.wkbType())))
        if not geometry.isMultipart():
            return geometry.asPoint()
        parts = geometry.asMultiPoint()
        if len(parts) != 1:
            raise QgsProcessingException(self.tr(
                "{name}: feature {id} is a MultiPoint of {count} points, so it has no single "
                "location. Split it with 'Multipart to singleparts' (each point then carries the "
                "feature's value), or keep one point per sample.").format(
                    name=self.POINTS, id=feature.id(), count=len(parts)))
        return parts[0]

    def read_points(self, parameters, context):
        """The point features of POINTS as a PointSet: ids, coordinates, CRS and FIELD's values."""
        source = self.parameterAsSource(parameters, self.POINTS, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.POINTS))
        fields = source.fields()
        field, index = self._measured_field(parameters, fields, context)
        id_index = next((fields.lookupField(n) for n in ID_FIELD_CANDIDATES if fields.lookupField(n) >= 0), -1)
        ids, xs, ys, values = [], [], [], []
        for feature in source.getFeatures():
            geometry = feature.geometry()
            if geometry is None or geometry.isEmpty():
                continue
            point = self._point_of(feature)
            ids.append(str(feature[id_index]) if id_index >= 0 else str(feature.id()))
            xs.append(point.x())
            ys.append(point.y())
            value = feature[index]
            values.append(float(value) if value is not None and value == value and
                          not (hasattr(value, "isNull") and value.isNull()) else float("nan"))
        crs = source.sourceCrs()
        return PointSet(ids=ids, x=xs, y=ys, values=values, field=field,
                        crs_wkt=crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL) if crs.isValid() else "")


class NetworkTrainingAlgorithm(SampleAlgorithm):
    """A sample algorithm that trains networks (traingabp, transfergabp): ensemble, seed,
    cross-validation and the model file it writes."""

    ENSEMBLE = "ENSEMBLE"
    SEED = "SEED"
    CV = "CV"
    FOLDS = "FOLDS"
    OUTPUT_MODEL = "OUTPUT_MODEL"

    def add_ensemble_and_seed(self):
        """Declare ENSEMBLE (networks averaged) and SEED."""
        self.add_parameter(QgsProcessingParameterNumber(
            self.ENSEMBLE, self.tr("Networks in the ensemble"), NUMBER_INTEGER, defaultValue=1,
            minValue=1, maxValue=100))
        self.add_parameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), NUMBER_INTEGER, defaultValue=0, minValue=0,
            maxValue=MAX_SEED))

    def add_cross_validation(self, label):
        """Declare CV (the scheme) and the advanced FOLDS."""
        self.add_parameter(QgsProcessingParameterEnum(
            self.CV, self.tr(label), options=[self.tr(text) for text in SCHEME_LABELS],
            defaultValue=DEFAULT_SCHEME))
        self.add_parameter(QgsProcessingParameterNumber(
            self.FOLDS, self.tr("Cross-validation folds"), NUMBER_INTEGER, defaultValue=DEFAULT_FOLDS,
            minValue=2, maxValue=1000), advanced=True)

    def cross_validation(self, parameters, context):
        """The workflow's cv and folds keywords from CV and FOLDS."""
        return {"cv": scheme_from_index(self.parameterAsEnum(parameters, self.CV, context)),
                "folds": self.parameterAsInt(parameters, self.FOLDS, context)}
