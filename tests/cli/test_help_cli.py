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
    assert "\nParameters:\n" in description and "Default: " in description
