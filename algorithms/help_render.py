"""An algorithm's help from help/<id>.json, rendered twice: rich HTML for the toolbox's help
panel, plain text for `qgis_process help` and scripts (which print it as it is).

qgis_process (3.22 through 3.44) prints shortDescription(), then shortHelpString() unchanged,
then every parameter's help(); the toolbox dialog shows shortHelpString() as HTML. So
shortHelpString() is HTML only in QGIS desktop, plain text everywhere else, and a parameter's
help() is plain text with its default marked "Default:" and an enum's options with their indices.
"""

import configparser
import os
import re
from html import escape

from qgis.core import (QgsApplication, QgsProcessingDestinationParameter, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum)

# The plugin folder (the parent of algorithms/): metadata.txt, help/ and icons/ are in it.
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_SECTION = "algorithms"        # the README heading "## Algorithms" lists every algorithm

# Toolbox search words of every algorithm, and those an algorithm gets when it has the parameters.
COMMON_TAGS = ("soil", "heavy metal", "copper", "lead", "Cu", "Pb", "contamination", "pollution",
               "mining", "soilmetal")
DERIVED_TAGS = (
    ({"CV", "FOLDS"}, ["cross-validation", "spatial cross-validation"]),
    ({"RESIDUAL_KRIGING", "KRIGING_NEIGHBOURS"}, ["kriging", "regression kriging", "geostatistics"]),
    ({"AOA_MASK"}, ["area of applicability"]),
    ({"COVERAGE"}, ["prediction interval", "uncertainty"]),
    ({"MASK"}, ["cloud mask", "QA"]),
)

# Words after which ". " does not end a sentence.
ABBREVIATIONS = ("et al", "e.g", "i.e", "cf", "etc", "approx", "Fig", "Eq", "vs", "No", "ca")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def rich_help_wanted():
    """True in QGIS desktop (the toolbox renders HTML); qgis_process and scripts get plain text."""
    app = QgsApplication.instance()
    return app is not None and QgsApplication.platform() == "desktop"


def first_sentence(text):
    """The first whole sentence of text: not cut at "et al." or "e.g.", nor inside parentheses."""
    paragraph = text.strip().split("\n")[0]
    for match in SENTENCE_END.finditer(paragraph):
        candidate = paragraph[:match.start()]
        if candidate.rstrip(".").endswith(ABBREVIATIONS):
            continue
        if candidate.count("(") != candidate.count(")"):
            continue
        return candidate
    return paragraph if paragraph.endswith((".", "!", "?")) else paragraph + "."


def help_url():
    """The README section on the project's page named in metadata.txt (homepage, else repository)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(PLUGIN_DIR, "metadata.txt"), encoding="utf-8")
    general = parser["general"] if parser.has_section("general") else {}
    base = (general.get("homepage") or general.get("repository") or "").strip().rstrip("/")
    return f"{base}#{README_SECTION}" if base else ""


def format_value(value):
    """A default as a user types it: 0.3, 10, true, 0,30,50."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(item) for item in value)
    return str(value)


def default_text(parameter):
    """'Default: X.' for a parameter that has a default ('' for destinations and no default)."""
    if isinstance(parameter, QgsProcessingDestinationParameter):
        return ""
    value = parameter.defaultValue()
    if value is None or value == "" or value == []:
        return ""
    if isinstance(parameter, QgsProcessingParameterEnum):
        options = parameter.options()
        indices = value if isinstance(value, (list, tuple)) else [value]
        try:
            names = [options[int(index)] for index in indices]
        except (ValueError, IndexError, TypeError):
            return f"Default: {format_value(value)}."
        return f"Default: {format_value([int(i) for i in indices])} ({'; '.join(names)})."
    if isinstance(parameter, QgsProcessingParameterBoolean):
        return f"Default: {format_value(bool(value))}."
    return f"Default: {format_value(value)}."


def parameter_help(text, parameter):
    """A parameter's help: its text, enum options with their indices, its default (plain text)."""
    text = text.strip()
    if isinstance(parameter, QgsProcessingParameterEnum):
        options = "; ".join(f"{index}: {option}" for index, option in enumerate(parameter.options()))
        text = f"{text} Options (index: meaning): {options}.".strip()
    default = default_text(parameter)
    value = default[len("Default: "):].split(" (")[0].rstrip(".") if default else ""
    already = value and re.search(r"\bdefault:?\s*" + re.escape(value) + r"(?!\w|\.\d)", text, re.I)
    if default and not already:
        text = f"{text} {default}".strip()
    return text


def entries(data, algorithm):
    """[(section title, [(name, label, help)])] of the parameters and outputs in help data."""
    sections = []
    for title, key in (("Parameters", "parameters"), ("Outputs", "outputs")):
        rows = []
        for name, text in data.get(key, {}).items():
            parameter = algorithm.parameterDefinition(name)
            output = algorithm.outputDefinition(name)
            label = (parameter or output).description() if (parameter or output) else ""
            rows.append((name, label, parameter_help(text, parameter) if parameter is not None else text.strip()))
        if rows:
            sections.append((title, rows))
    return sections


def render_html(data, algorithm):
    """Rich help for the toolbox's help panel."""
    parts = [f"<p>{escape(p.strip(), quote=False)}</p>" for p in data.get("description", "").split("\n\n") if p.strip()]
    for title, rows in entries(data, algorithm):
        parts.append(f"<h3>{title}</h3><dl>")
        for name, label, text in rows:
            caption = f"{escape(label)} (<code>{escape(name)}</code>)" if label else f"<code>{escape(name)}</code>"
            parts.append(f"<dt><b>{caption}</b></dt><dd>{escape(text, quote=False)}</dd>")
        parts.append("</dl>")
    for paragraph in data.get("notes", []):
        parts.append(f"<p><i>{escape(paragraph, quote=False)}</i></p>")
    url = help_url()
    if url:
        parts.append(f'<p>More: <a href="{escape(url)}">{escape(url)}</a></p>')
    return "".join(parts)


def render_text(data, algorithm):
    """Plain text: paragraphs, then headed sections with one line per parameter or output."""
    lines = []
    for paragraph in data.get("description", "").split("\n\n"):
        if paragraph.strip():
            lines += [paragraph.strip(), ""]
    for title, rows in entries(data, algorithm):
        lines.append(f"{title}:")
        for name, label, text in rows:
            lines.append(f"  {name} - {label}: {text}" if label else f"  {name}: {text}")
        lines.append("")
    notes = [n.strip() for n in data.get("notes", []) if n.strip()]
    if notes:
        lines.append("Notes:")
        lines += [f"  {note}" for note in notes]
        lines.append("")
    url = help_url()
    if url:
        lines.append(f"More: {url}")
    return "\n".join(lines).strip()


def search_tags(own, algorithm):
    """The plugin's search words, the algorithm's own, and those its parameters earn."""
    words = list(COMMON_TAGS) + list(own)
    names = {p.name() for p in algorithm.parameterDefinitions()}
    for parameter_names, extra in DERIVED_TAGS:
        if names & parameter_names:
            words += extra
    return list(dict.fromkeys(words))


def render_model_text(model):
    """Plain text help of a shipped graphical model: its description, then one line per input."""
    content = model.helpContent()
    lines = [content.get("ALG_DESC", "").strip()]
    definitions = model.parameterDefinitions()
    for title, wanted in (("Parameters", False), ("Outputs", True)):
        rows = [p for p in definitions if isinstance(p, QgsProcessingDestinationParameter) == wanted]
        if rows:
            lines += ["", f"{title}:"]
        for parameter in rows:
            text = parameter_help(content.get(parameter.name()) or parameter.help() or "", parameter)
            lines.append(f"  {parameter.name()} - {parameter.description()}: {text}")
    url = help_url()
    if url:
        lines += ["", f"More: {url}"]
    return "\n".join(lines).strip()
