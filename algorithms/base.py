"""Shared plumbing of every soilmetal algorithm: help, icon, tr, createInstance, and the
conversions between Processing parameters and the plain values core/ works with."""

import json
import os
import re
import sys
import threading

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem,
                       QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingFeedback, QgsProcessingUtils,
                       QgsProcessingOutputLayerDefinition,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterFileDestination,
                       QgsProcessingParameterField, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber, QgsProperty, QgsRasterLayer, QgsWkbTypes)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .compat import (FIELD_NUMERIC, GEOMETRY_POINT, NUMBER_DOUBLE, NUMBER_INTEGER,
                     PARAMETER_ADVANCED, SOURCE_RASTER, SOURCE_VECTOR_POINT, pick)
from .help_render import (first_sentence, help_url, parameter_help, render_html, render_text,
                          rich_help_wanted, search_tags)
from ..core.errors import Cancelled, SoilMetalError
from ..core.model_file import load_model
from ..core.monitor import Monitor, cancel_on_signals
from ..core.science.outliers import LABELS as OUTLIER_LABELS
from ..core.science.outliers import METHODS as OUTLIER_METHODS
from ..core.outputs import OutputTransaction, check_destination
from ..core.raster_io import unreadable_raster
from ..core.guards import check_unique_names
from ..core.sampling import (SAMPLING_LABELS, SAMPLING_METHODS, FactorSource, PointSet,
                             parse_factor_names)

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELP_DIR = os.path.join(PLUGIN_DIR, "help")
ICON_PATH = os.path.join(PLUGIN_DIR, "icons", "soilmetal.svg")

GROUPS = {
    "factors": ("factorpreparation", "Factor preparation"),
    "modelling": ("modelling", "Modelling"),
    "mapping": ("mappingandreporting", "Mapping and reporting"),
}

# Attribute fields taken as the sample identifier, in order of preference.
ID_FIELD_CANDIDATES = ("sample_id", "SAMPLE_ID", "id", "ID", "Id", "name", "NAME")


def load_help(algorithm_id):
    """The help of one algorithm from help/<id>.json: description, parameters, outputs."""
    path = os.path.join(HELP_DIR, f"{algorithm_id}.json")
    # A missing or broken help file must not stop the provider from loading every algorithm;
    # tests/algorithms/test_provider.py fails on any algorithm left without help.
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _plain(number):
    """A range bound as people write it: 100000, 2147483647, 0.9, 1e-09."""
    return str(int(number)) if number == int(number) and abs(number) < 1e15 else f"{number:g}"


class _TransactionFeedback(QgsProcessingFeedback):
    """Forwards a run's messages and progress to the Processing feedback, with the outputs'
    temporary paths replaced by their final ones; cancelling the original cancels this one."""

    def __init__(self, feedback, transaction):
        super().__init__(False)
        self._feedback = feedback
        self._transaction = transaction
        self.progressChanged.connect(feedback.setProgress)
        feedback.canceled.connect(self.cancel)
        if feedback.isCanceled():
            self.cancel()

    def _text(self, text):
        return self._transaction.final_text(text)

    def setProgressText(self, text):
        self._feedback.setProgressText(self._text(text))

    def reportError(self, error, fatalError=False):
        self._feedback.reportError(self._text(error), fatalError)

    def pushWarning(self, warning):
        self._feedback.pushWarning(self._text(warning))

    def pushInfo(self, info):
        self._feedback.pushInfo(self._text(info))

    def pushCommandInfo(self, info):
        self._feedback.pushCommandInfo(self._text(info))

    def pushDebugInfo(self, info):
        self._feedback.pushDebugInfo(self._text(info))

    def pushConsoleInfo(self, info):
        self._feedback.pushConsoleInfo(self._text(info))


class SoilMetalAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set ALGORITHM_ID, DISPLAY_NAME, GROUP and implement
    initAlgorithm() and execute(); SoilMetalError from core becomes QgsProcessingException."""

    ALGORITHM_ID = ""
    DISPLAY_NAME = ""
    GROUP = "factors"
    # Parameters holding a soilmetal model file: checked before the run starts.
    MODEL_PARAMETERS = ()

    # Parameters of every algorithm that reads soil samples at factor rasters.
    POINTS = "POINTS"
    FIELD = "FIELD"
    FACTORS = "FACTORS"
    SAMPLING = "SAMPLING"
    OUTLIERS = "OUTLIERS"
    OUTLIERS_THRESHOLD = "OUTLIERS_THRESHOLD"

    def name(self):
        """Fixed, lowercase id (never translated)."""
        return self.ALGORITHM_ID

    def displayName(self):
        """Translated name shown in the toolbox."""
        return self.tr(self.DISPLAY_NAME)

    def group(self):
        """Translated toolbox group."""
        return self.tr(GROUPS[self.GROUP][1])

    def groupId(self):
        """Fixed group id."""
        return GROUPS[self.GROUP][0]

    def tr(self, text):
        """Translate text in the soilmetal context."""
        return QCoreApplication.translate("soilmetal", text)

    def createInstance(self):
        """A fresh instance of the same algorithm."""
        return type(self)()

    def icon(self):
        """The plugin icon."""
        return QIcon(ICON_PATH)

    def svgIconPath(self):
        """Path of the plugin's SVG icon."""
        return ICON_PATH

    def help_data(self):
        """This algorithm's help, read from help/<id>.json."""
        return load_help(self.ALGORITHM_ID)

    def shortDescription(self):
        """One whole sentence (toolbox tooltip, qgis_process list and help): help/<id>.json's
        short_description, else the description's first sentence (not cut at "et al.")."""
        data = self.help_data()
        return self.tr(data.get("short_description") or first_sentence(data.get("description", "")))

    def shortHelpString(self):
        """Rich HTML in the toolbox; plain text in qgis_process and scripts, which print it as is."""
        return self.help_html() if rich_help_wanted() else self.help_text()

    def help_html(self):
        """The rich help: description, parameters and outputs with their defaults, notes, link."""
        return self.tr(render_html(self.help_data(), self))

    def help_text(self):
        """The same as plain text: paragraphs, then one line per parameter and output."""
        return self.tr(render_text(self.help_data(), self))

    def helpUrl(self):
        """The README section that lists the algorithms, on the project page of metadata.txt."""
        return help_url()

    def tags(self):
        """Search words of the toolbox: the plugin's, help/<id>.json's, and what the parameters offer."""
        return [self.tr(word) for word in search_tags(self.help_data().get("tags", []), self)]

    def _parameter_help(self, parameter):
        """A parameter's help from help/<id>.json, with enum indices and its default, for scripts."""
        data = self.help_data()
        text = data.get("parameters", {}).get(parameter.name(), data.get("outputs", {}).get(parameter.name(), ""))
        return parameter_help(text, parameter)

    def add_parameter(self, parameter, advanced=False):
        """Add a parameter (or destination) with its help text from help/<id>.json."""
        text = self._parameter_help(parameter)
        if hasattr(parameter, "setHelp"):
            parameter.setHelp(self.tr(text))
        if advanced:
            parameter.setFlags(parameter.flags() | PARAMETER_ADVANCED)
        self.addParameter(parameter)
        return parameter

    def checkParameterValues(self, parameters, context):
        """Before the run: unreadable raster inputs, model files, and output paths that cannot be
        written (folder missing and not creatable, read-only, wrong extension, used twice)."""
        message = (self._repeated_strings(parameters) or self._out_of_range(parameters)
                   or self._unreadable_inputs(parameters))
        if message:
            return False, message
        for name in self.MODEL_PARAMETERS:
            try:
                load_model(self.parameterAsFile(parameters, name, context))
            except SoilMetalError as error:
                return False, str(error)
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        message = self._unwritable_outputs(parameters, context)
        if message:
            return False, message
        return True, ""

    def _repeated_strings(self, parameters):
        """A message for a text parameter given more than once (qgis_process turns KEY=a KEY=b
        into a list, which would otherwise be read as empty: 'all factors')."""
        for parameter in self.parameterDefinitions():
            value = parameters.get(parameter.name())
            if parameter.type() == "string" and isinstance(value, (list, tuple)):
                return self.tr(f"{parameter.name()} was given {len(value)} times. Give it once, with "
                               f"the values comma-separated: {parameter.name()}="
                               f"{','.join(str(v) for v in value)}")
        return None

    def _out_of_range(self, parameters):
        """A message, with the allowed range, for a number parameter outside its range or not a
        number (QGIS 3.22 says only 'Incorrect parameter value')."""
        for parameter in self.parameterDefinitions():
            value = parameters.get(parameter.name())
            if parameter.type() != "number" or value is None or isinstance(value, bool):
                continue
            if isinstance(value, str):
                if not value.strip():
                    continue
                try:
                    number = float(value)
                except ValueError:
                    number = None
            elif isinstance(value, (int, float)):
                number = float(value)
            else:
                continue  # an expression or model input: QGIS evaluates it
            integer = parameter.dataType() == NUMBER_INTEGER
            low, high = parameter.minimum(), parameter.maximum()
            bounds = [f"at least {_plain(low)}" if low > -1e300 else "",
                      f"at most {_plain(high)}" if high < 1e300 else ""]
            allowed = (f"a {'whole number' if integer else 'number'}"
                       + (f" from {_plain(low)} to {_plain(high)}" if all(bounds) else
                          f" {' '.join(b for b in bounds if b)}" if any(bounds) else ""))
            if number is None or number != number or abs(number) == float("inf") or \
                    (integer and number != int(number)) or number < low or number > high:
                return self.tr(f"{parameter.name()} ({parameter.description()}): '{value}' is not "
                               f"allowed; give {allowed}.")
        return None

    def _unreadable_inputs(self, parameters):
        """A message for the first raster input file that is missing, empty or not a raster."""
        for parameter in self.parameterDefinitions():
            if parameter.type() not in ("raster", "multilayer"):
                continue
            if parameter.type() == "multilayer" and parameter.layerType() != SOURCE_RASTER:
                continue
            value = parameters.get(parameter.name())
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if not isinstance(item, str) or not item.strip():
                    continue
                path = item.split("|")[0]
                # Only what looks like a file path: layer ids and names are QGIS's to resolve.
                if os.sep not in path and not os.path.exists(path):
                    continue
                problem = unreadable_raster(path)
                if problem:
                    return self.tr(f"{parameter.name()}: {problem}")
        return None

    def _destinations(self, parameters, context):
        """(parameter, final path) of every destination the run will write."""
        found = []
        for parameter in self.destinationParameterDefinitions():
            value = parameters.get(parameter.name())
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            path = self.parameterAsFileOutput(parameters, parameter.name(), context)
            if path:
                found.append((parameter, path))
        return found

    def _unwritable_outputs(self, parameters, context):
        """A message for the first output path that cannot be written, or None."""
        seen = {}
        for parameter, path in self._destinations(parameters, context):
            if parameter.type() == "rasterDestination":
                extensions, kind = (".tif", ".tiff"), "a GeoTIFF"
            else:
                extensions = tuple(sorted({e.lower() for e in
                                           re.findall(r"\*(\.[A-Za-z0-9]+)", parameter.fileFilter())}))
                label = parameter.fileFilter().split("(")[0].strip() or "file"
                kind = "a " + (label[:-1] if label.endswith("files") else label)
            problem = check_destination(parameter.name(), path, extensions, kind)
            if problem:
                return self.tr(problem)
            final = os.path.abspath(path)
            if final in seen:
                return self.tr(f"{parameter.name()} and {seen[final]} are the same file '{path}'. "
                               "Give each output its own file name.")
            seen[final] = parameter.name()
        return None

    def add_optional_file_output(self, name, label, file_filter):
        """Declare an optional file destination (report, table): written only when asked for.

        QGIS 3.22 refuses a run that leaves a mandatory destination unset, even one with a
        default, so every output but the one an algorithm exists for is declared this way.
        """
        self.add_parameter(QgsProcessingParameterFileDestination(
            name, self.tr(label), fileFilter=file_filter, optional=True, createByDefault=False))

    def processAlgorithm(self, parameters, context, feedback):
        """Run execute() as one output transaction: every output is written under a temporary
        name and moved into place only when the whole run succeeded; on an error, a cancel or
        SIGTERM/SIGINT nothing of the run is left. A SoilMetalError becomes a
        QgsProcessingException with its message (shown once)."""
        transaction = OutputTransaction()
        proxy = _TransactionFeedback(feedback, transaction) if feedback is not None else None
        cancel = feedback.cancel if feedback is not None else (lambda: None)
        try:
            staged = self._stage_outputs(parameters, context, transaction)
            with cancel_on_signals(cancel) as guard:
                results = self.execute(staged, context, proxy)
                with guard.held():
                    if guard.received or (feedback is not None and feedback.isCanceled()):
                        raise Cancelled()
                    transaction.commit()
        except SoilMetalError as error:
            transaction.abort()
            self._fail(transaction.final_text(str(error)))
        except QgsProcessingException as error:
            transaction.abort()
            self._fail(transaction.final_text(str(error)))
        except OSError as error:
            transaction.abort()
            self._fail(transaction.final_text(
                f"Cannot access '{error.filename or ''}': {error.strerror or error}. Check the path "
                "and that its folder can be written to, then run again."))
        except MemoryError:
            transaction.abort()
            self._fail("Not enough memory for this run. Close other programs, or use smaller "
                       "rasters (clip them to the study area) or fewer ensemble members.")
        except BaseException:
            transaction.abort()
            raise
        return {key: transaction.final_text(value) for key, value in results.items()}

    def _stage_outputs(self, parameters, context, transaction):
        """A copy of parameters in which every destination points at its temporary name.

        A layer Processing loads when the run is done is registered under its final path here
        (as parameterAsOutputLayer would), so styling (outputs.final_path) finds it."""
        staged = dict(parameters)
        for parameter, path in self._destinations(parameters, context):
            temporary = transaction.stage(path)
            value = parameters[parameter.name()]
            if isinstance(value, QgsProcessingOutputLayerDefinition):
                project = value.destinationProject
                value = QgsProcessingOutputLayerDefinition(value)
                value.sink = QgsProperty.fromValue(temporary)
                value.destinationProject = None
                if project is not None:
                    hint = pick("ProcessingLayerHint", "Raster" if parameter.type() == "rasterDestination"
                                else "UnknownType", QgsProcessingUtils.LayerHint,
                                "Raster" if parameter.type() == "rasterDestination" else "UnknownType")
                    context.addLayerToLoadOnCompletion(os.path.abspath(path), QgsProcessingContext.LayerDetails(
                        value.destinationName or parameter.description(), project, parameter.name(), hint))
            else:
                value = temporary
            staged[parameter.name()] = value
        return staged

    @staticmethod
    def _fail(message):
        """Raise the QgsProcessingException of a failed run.

        qgis_process prints a failed run's message three times: its console feedback's ERROR
        line, and two copies of the critical message-log entries that
        QgsProcessingAlgorithm::runPrepared and QgsProcessingFeedback::reportError add, which it
        echoes to stderr (with --json, only those two). The run is over, so under qgis_process
        (main thread, the process exits next) the message log is silenced, and the message is
        printed once: by the ERROR line, or here with --json (whose output has no error field).
        """
        if (QgsApplication.platform() == "qgis_process"
                and threading.current_thread() is threading.main_thread()):
            QgsApplication.messageLog().blockSignals(True)
            if "--json" in QCoreApplication.arguments():
                sys.stderr.write(message + "\n")
                sys.stderr.flush()
        raise QgsProcessingException(message) from None

    def execute(self, parameters, context, feedback):
        """Subclasses: read parameters, call core, write outputs, return the output dict."""
        raise NotImplementedError

    # ---- conversions shared by the algorithms -------------------------------------------

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

    def sample_options(self, parameters, context):
        """(sampling method, outlier method, outlier threshold or None) from the sample options."""
        return (SAMPLING_METHODS[self.parameterAsEnum(parameters, self.SAMPLING, context)],
                OUTLIER_METHODS[self.parameterAsEnum(parameters, self.OUTLIERS, context)],
                self.optional_number(parameters, self.OUTLIERS_THRESHOLD, context))

    def factor_names(self, parameters, name, context):
        """A comma-separated list of factor names; a name given twice is an error."""
        names = parse_factor_names(self.parameterAsString(parameters, name, context))
        check_unique_names(names, name)
        return names

    def optional_number(self, parameters, name, context):
        """An optional number parameter, None when left empty."""
        value = parameters.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return self.parameterAsDouble(parameters, name, context)

    @staticmethod
    def monitor(feedback):
        """A core Monitor that reports to the Processing feedback."""
        if feedback is None:
            return Monitor()
        warn = getattr(feedback, "pushWarning", None) or (lambda text: feedback.reportError(text, False))
        return Monitor(progress=feedback.setProgress, is_cancelled=feedback.isCanceled,
                       info=feedback.pushInfo, warning=warn)

    def _is_feature_id(self, parameters, name, context, index):
        """True when field `index` of a point layer is its provider's primary key (GeoPackage fid)."""
        layer = self.parameterAsVectorLayer(parameters, name, context)
        if layer is None:
            return True  # a name 'fid' that cannot be checked: a measured field is never called so
        return index in layer.primaryKeyAttributes()

    def factor_sources(self, parameters, name, context):
        """The rasters of a multiple-layer parameter as FactorSource(path, layer name) items."""
        layers = self.parameterAsLayerList(parameters, name, context)
        if not layers:
            raise QgsProcessingException(self.tr(
                f"{name}: no raster given. Choose one or more factor rasters (from 'Spectral indices' "
                "and 'Terrain factors')."))
        sources = []
        for layer in layers:
            if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
                raise QgsProcessingException(self.tr(
                    f"{name}: layer '{layer.name()}' is not a raster file GDAL can read; save it as "
                    "GeoTIFF first."))
            sources.append(FactorSource(path=layer.source(), layer_name=layer.name()))
        return sources

    def raster_path(self, parameters, name, context):
        """File path of a single raster parameter, or None when it is optional and empty."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            return None
        if layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                f"{name}: layer '{layer.name()}' is not a raster file GDAL can read; save it as GeoTIFF first."))
        return layer.source()

    def read_points(self, parameters, points_name, field_name, context):
        """The point features of a source as a PointSet: ids, coordinates, CRS and the numeric field."""
        source = self.parameterAsSource(parameters, points_name, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, points_name))
        field = self.parameterAsString(parameters, field_name, context)
        fields = source.fields()
        index = fields.lookupField(field)
        if index < 0:
            available = ", ".join(f.name() for f in fields if f.isNumeric()) or "none"
            raise QgsProcessingException(self.tr(
                f"{field_name}: the points have no field '{field}'. Numeric fields available: {available}."))
        if field.lower() == "fid" and \
                self._is_feature_id(parameters, points_name, context, index):
            available = ", ".join(f.name() for f in fields if f.isNumeric() and f.name().lower() != "fid")
            raise QgsProcessingException(self.tr(
                f"{field_name}: '{field}' is the layer's feature id, not a measurement. Choose the field "
                f"that holds the measured content in mg/kg (numeric fields: {available or 'none'})."))
        if not fields.at(index).isNumeric():
            available = ", ".join(f.name() for f in fields if f.isNumeric()) or "none"
            raise QgsProcessingException(self.tr(
                f"{field_name}: field '{field}' is of type {fields.at(index).typeName()}, not numeric. "
                f"Choose the field that holds the measured content in mg/kg (numeric fields: {available}), "
                "or convert it with the Field calculator (to_real)."))
        id_index = next((fields.lookupField(n) for n in ID_FIELD_CANDIDATES if fields.lookupField(n) >= 0), -1)
        ids, xs, ys, values = [], [], [], []
        for feature in source.getFeatures():
            geometry = feature.geometry()
            if geometry is None or geometry.isEmpty():
                continue
            if QgsWkbTypes.geometryType(geometry.wkbType()) != GEOMETRY_POINT:
                raise QgsProcessingException(self.tr(
                    f"{points_name}: the layer must hold points (sample locations), not "
                    f"{QgsWkbTypes.displayString(geometry.wkbType())}."))
            if geometry.isMultipart():
                parts = geometry.asMultiPoint()
                if len(parts) != 1:
                    raise QgsProcessingException(self.tr(
                        f"{points_name}: feature {feature.id()} is a MultiPoint of {len(parts)} points, "
                        "so it has no single location. Split it with 'Multipart to singleparts' (each "
                        "point then carries the feature's value), or keep one point per sample."))
                point = parts[0]
            else:
                point = geometry.asPoint()
            ids.append(str(feature[id_index]) if id_index >= 0 else str(feature.id()))
            xs.append(point.x())
            ys.append(point.y())
            value = feature[index]
            values.append(float(value) if value is not None and value == value and
                          not (hasattr(value, "isNull") and value.isNull()) else float("nan"))
        crs = source.sourceCrs()
        return PointSet(ids=ids, x=xs, y=ys, values=values, field=field,
                        crs_wkt=crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL) if crs.isValid() else "")
