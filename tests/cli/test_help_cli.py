"""`qgis_process help soilmetal:<alg>` as a scripter reads it: plain text, no HTML."""

import re

import pytest

from support import qgis_process_help

ALGORITHMS = ["spectralindices", "terrainfactors", "topographiccorrection", "selectfactors", "traingabp",
              "transfergabp", "evaluatemodel", "predictcontent", "contentstatistics", "trgabpworkflow"]
HTML_TAG = re.compile(r"</?(?:p|b|i|h\d|dl|dt|dd|br|a|code|ul|li|em|strong|html|body|span|div|table|tr|td)\b[^>]*>",
                      re.I)
ENTITY = re.compile(r"&(?:#x?[0-9a-f]+|[a-z]+);", re.I)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_help_is_plain_text(profile, algorithm):
    result = qgis_process_help(algorithm, profile)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert not HTML_TAG.search(text), HTML_TAG.search(text).group(0)
    assert not ENTITY.search(text), ENTITY.search(text).group(0)
    description = text.split("Description\n----------------\n", 1)[1].split("\n----------------\nArguments")[0]
    short = description.splitlines()[0]
    assert short.endswith(".") and not short.endswith(("et al.", "e.g.")), short
    # Our plain-text block lists each parameter with its default; QGIS 3.40+ prints a shipped
    # model's own description instead, and then each argument's help and "Default value:" below.
    ours = "\nParameters:\n" in description and "Default: " in description
    assert ours or arguments_without_help(text) == [], arguments_without_help(text)


QGIS_ARGUMENT_LINES = ("Default value:", "Argument type:", "Acceptable values:", "Available values:",
                       "- ", "field:", "expression:")


def arguments_without_help(text):
    """Names in qgis_process's Arguments section whose entry has no help sentence of its own."""
    section = text.split("\n----------------\nArguments\n----------------\n", 1)[1]
    section = section.split("\n----------------\n", 1)[0]
    entries = re.split(r"\n(?=\S)", section.strip("\n"))  # an entry starts at column 0
    missing = []
    for entry in filter(None, (e.strip("\n") for e in entries)):
        name, _, body = entry.partition("\n")
        own = [line.strip() for line in body.splitlines()
               if line.strip() and not line.strip().startswith(QGIS_ARGUMENT_LINES)]
        if not own:
            missing.append(name.split(":")[0])
    return missing
