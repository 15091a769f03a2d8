"""Shared plumbing of every soilmetal algorithm: help, icon, tr, createInstance, and the
conversions between Processing parameters and the plain values core/ works with."""

import json
import os
import sys
import threading

from qgis.core import (QgsApplication, QgsProcessingAlgorithm, QgsProcessingContext,
                       QgsProcessingException, QgsProcessingFeedback, QgsProcessingUtils,
                       QgsProcessingOutputLayerDefinition, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination,
                       QgsProperty, QgsRasterLayer)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .compat import PARAMETER_ADVANCED, pick
from .help_render import (PLUGIN_DIR, first_sentence, help_url, parameter_help, render_html, render_text,
                          rich_help_wanted, search_tags)
from .parameter_checks import destinations, input_problem, unwritable_outputs
from ..core.errors import Cancelled, SoilMetalError
from ..core.model_file import load_model
from ..core.monitor import Monitor, cancel_on_signals
from ..core.outputs import OutputTransaction
from ..core.sampling import FactorSource

HELP_DIR = os.path.join(PLUGIN_DIR, "help")
ICON_PATH = os.path.join(PLUGIN_DIR, "icons", "soilmetal.svg")

GROUPS = {
    "factors": ("factorpreparation", "Factor preparation"),
    "modelling": ("modelling", "Modelling"),
    "mapping": ("mappingandreporting", "Mapping and reporting"),
}


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
        message = self.input_problem(parameters)
        if message:
            return False, message
        for name in self.model_parameters():
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

    def input_problem(self, parameters):
        """The first problem of the input values (text given twice, number out of range,
        unreadable raster file) as a message, or None."""
        return input_problem(self, parameters)

    def _unwritable_outputs(self, parameters, context):
        """A message for the first output path that cannot be written, or None."""
        return unwritable_outputs(self, parameters, context)

    def add_model_file(self, name, label):
        """Declare an input soilmetal model file (.json), refused before the run when unreadable."""
        self.add_parameter(QgsProcessingParameterFile(name, self.tr(label), extension="json"))
        self._model_files = getattr(self, "_model_files", ()) + (name,)

    def model_parameters(self):
        """Names of the parameters that hold a model file (declared with add_model_file)."""
        return tuple(dict.fromkeys(getattr(self, "_model_files", ())))

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
        for parameter, path in destinations(self, parameters, context):
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

    def _not_gdal_raster(self, name, layer):
        """The error for a layer that is not a raster file GDAL reads (a WMS, a memory layer)."""
        return QgsProcessingException(self.tr(
            "{name}: layer '{layer}' is not a raster file GDAL can read; save it as GeoTIFF "
            "first.").format(name=name, layer=layer.name()))

    def factor_sources(self, parameters, name, context):
        """The rasters of a multiple-layer parameter as FactorSource(path, layer name) items."""
        layers = self.parameterAsLayerList(parameters, name, context)
        if not layers:
            raise QgsProcessingException(self.tr(
                "{name}: no raster given. Choose one or more factor rasters (from 'Spectral "
                "indices' and 'Terrain factors').").format(name=name))
        for layer in layers:
            if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
                raise self._not_gdal_raster(name, layer)
        return [FactorSource(path=layer.source(), layer_name=layer.name()) for layer in layers]

    def raster_path(self, parameters, name, context):
        """File path of a single raster parameter, or None when it is optional and empty."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            return None
        if layer.providerType() != "gdal":
            raise self._not_gdal_raster(name, layer)
        return layer.source()
