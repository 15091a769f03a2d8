"""The soilmetal Processing provider."""

import glob
import os
import re

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
ICON_PATH = os.path.join(PLUGIN_DIR, "icons", "soilmetal.svg")
MODELS_DIR = os.path.join(PLUGIN_DIR, "models")
MODEL_TAGS = ("workflow", "graphical model", "Tr-GA-BP", "transfer learning", "GA-BP", "neural network",
              "Landsat", "DEM", "content map")


def _version():
    """The plugin version from metadata.txt."""
    with open(os.path.join(PLUGIN_DIR, "metadata.txt"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
    return ""


class ShippedModel(QgsProcessingModelAlgorithm):
    """A graphical model shipped with the plugin: QGIS's own rich help in the toolbox, plain text
    in qgis_process and scripts (QGIS 3.22 prints a model's help there as raw HTML)."""

    def shortHelpString(self):
        from .algorithms.help_render import render_model_text, rich_help_wanted
        return super().shortHelpString() if rich_help_wanted() else render_model_text(self)

    def helpUrl(self):
        from .algorithms.help_render import help_url
        return super().helpUrl() or help_url()

    def tags(self):
        from .algorithms.help_render import search_tags
        return search_tags(MODEL_TAGS, self)

    def createInstance(self):
        """A copy that keeps this class (QGIS's own copy would be a plain model, which runs
        without the checks below)."""
        model = ShippedModel()
        model.loadVariant(self.toVariant())
        model.setSourceFilePath(self.sourceFilePath())
        return model

    def checkParameterValues(self, parameters, context):
        """Refuse a bad input before any step runs.

        QGIS 3.22 checks a child's parameters only when the model reaches that step, so a bad
        value for the last step (CLASS_BREAKS=0,50,30) would fail after the earlier steps wrote
        their outputs. Every step is checked here with the values known before the run (model
        inputs and fixed values); what comes from an earlier step is checked when it runs.
        """
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        for child in sorted(self.childAlgorithms().values(), key=lambda c: c.position().x()):
            message = self._child_problem(child, parameters, context)
            if message:
                return False, f"{child.description()} ({child.algorithmId()}): {message}"
        return True, ""

    def _input_value(self, name, parameters):
        """A model input's value as given, else its default (None for an unknown input)."""
        value = parameters.get(name)
        if value is None:
            definition = self.parameterDefinition(name)
            value = definition.defaultValue() if definition else None
        return value

    def _child_values(self, child, parameters):
        """(the child's parameter values known before the run, names of those not known)."""
        from .algorithms.compat import MODEL_SOURCE_PARAMETER, MODEL_SOURCE_STATIC
        known, unknown = {}, set()
        algorithm = child.algorithm()
        outputs = {output.childOutputName(): f"{child.childId()}:{label}"
                   for label, output in child.modelOutputs().items()}
        for definition in algorithm.parameterDefinitions():
            name = definition.name()
            if name in outputs and parameters.get(outputs[name]) is not None:
                known[name] = parameters[outputs[name]]
                continue
            sources = child.parameterSources().get(name, [])
            values = []
            for source in sources:
                if source.source() == MODEL_SOURCE_STATIC:
                    values.append(source.staticValue())
                elif source.source() == MODEL_SOURCE_PARAMETER:
                    values.append(self._input_value(source.parameterName(), parameters))
                else:
                    values = None  # another step's output or an expression: known only at run time
                    break
            if values is None or (not sources and definition.isDestination()):
                unknown.add(name)
            elif sources and not all(value is None for value in values):
                known[name] = values if len(values) > 1 or definition.type() == "multilayer" else values[0]
        return known, unknown

    def _child_problem(self, child, parameters, context):
        """The message of the first check the child's known values fail, or None."""
        algorithm = child.algorithm()
        if algorithm is None:
            return None
        if child.algorithmId() == "native:raiseexception":
            return self._raised_message(child, parameters)
        known, unknown = self._child_values(child, parameters)
        inputs = getattr(algorithm, "input_problem", None)
        outputs = getattr(algorithm, "_unwritable_outputs", None)
        message = (inputs(known) if inputs else None) or (outputs(known, context) if outputs else None)
        if message:
            return message
        for name, value in known.items():
            definition = algorithm.parameterDefinition(name)
            if not definition.isDestination() and not definition.checkValueIsAcceptable(value, context):
                return f"'{value}' is not a valid value for {name} ({definition.description()})."
        model_files = getattr(algorithm, "model_parameters", None)
        if model_files is not None and unknown & set(model_files()):
            return None  # its model file is written by an earlier step
        ok, message = algorithm.checkParameterValues(known, context)
        # A failure that names a value not known yet is for the run to decide.
        if ok or any(re.search(rf"\b{re.escape(name)}\b", message) for name in unknown):
            return None
        return message


    def _raised_message(self, child, parameters):
        """The message a Raise-exception step whose condition depends on model inputs only would
        stop the run with, or None. Evaluated here, its message reaches the exception on every
        version (QGIS 3.22 gives it to the feedback only, with an empty exception, when the
        model reaches the step)."""
        from qgis.core import QgsExpression, QgsExpressionContext, QgsExpressionContextScope
        from .algorithms.compat import MODEL_SOURCE_EXPRESSION, MODEL_SOURCE_STATIC
        scope = QgsExpressionContextScope()
        for definition in self.parameterDefinitions():
            value = self._input_value(definition.name(), parameters)
            if value is not None and definition.type() in ("number", "enum"):
                try:  # qgis_process gives every value as text
                    value = float(value) if definition.type() == "number" else int(value)
                except (TypeError, ValueError):
                    return None  # the model's own check reports a value that is no number
            scope.setVariable(definition.name(), value)
        expression_context = QgsExpressionContext()
        expression_context.appendScope(scope)

        def evaluated(name):
            sources = child.parameterSources().get(name, [])
            if len(sources) != 1:
                return None
            source = sources[0]
            if source.source() == MODEL_SOURCE_STATIC:
                text = source.staticValue()
            elif source.source() == MODEL_SOURCE_EXPRESSION:
                text = source.expression()
            else:
                return None
            return QgsExpression(str(text)).evaluate(expression_context) if text else None

        if not evaluated("CONDITION"):
            return None
        message = evaluated("MESSAGE")
        return str(message) if message else None


class SoilMetalProvider(QgsProcessingProvider):
    """Provides the soilmetal algorithms (and the shipped workflow model)."""

    def id(self):
        """Provider id used in algorithm ids: soilmetal:<name>."""
        return "soilmetal"

    def name(self):
        """Name shown in the toolbox."""
        return "Soil heavy metal retrieval"

    def longName(self):
        """Name with the version."""
        return f"Soil heavy metal retrieval {_version()}"

    def versionInfo(self):
        """Version shown in the Processing options."""
        return _version()

    def icon(self):
        """The provider icon."""
        return QIcon(ICON_PATH)

    def svgIconPath(self):
        """Path of the provider's SVG icon."""
        return ICON_PATH

    def loadAlgorithms(self):
        """Add one instance of every algorithm."""
        from .algorithms import all_algorithms
        for algorithm in all_algorithms():
            self.addAlgorithm(algorithm)
        # The shipped graphical models (the whole workflow), editable in the modeler. A model
        # resolves its steps through the registry, so it can only be loaded once this provider
        # is registered: the plugin refreshes the provider right after adding it.
        if QgsApplication.processingRegistry().providerById(self.id()) is not self:
            return
        for path in sorted(glob.glob(os.path.join(MODELS_DIR, "*.model3"))):
            model = ShippedModel()
            if model.fromFile(path):
                self.addAlgorithm(model)
