"""The public contract of ../shared/INTERFACE.md: every id, parameter and output key it names exists."""

import re

import pytest
from qgis.core import QgsApplication

from support import ROOT

INTERFACE = ROOT.parent / "shared" / "INTERFACE.md"


def upper_names(text):
    """The backticked UPPER_CASE names in a table cell (parameter or output keys)."""
    return re.findall(r"`([A-Z][A-Z0-9_]*)`", text)


def contract():
    """{algorithm id: (parameter names, output names)} from the table in INTERFACE.md."""
    rows = {}
    for line in INTERFACE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|", line)
        if not match:
            continue
        rows[match.group(1)] = (upper_names(match.group(3)), upper_names(match.group(4)))
    return rows


CONTRACT = contract()


def test_the_contract_was_read():
    assert len(CONTRACT) == 8
    assert "SEED" in CONTRACT["traingabp"][0] and "BETA" in CONTRACT["transfergabp"][1]


@pytest.mark.parametrize("algorithm_id", sorted(CONTRACT))
def test_algorithm_keeps_the_contract(plugin, algorithm_id):
    alg = QgsApplication.processingRegistry().algorithmById(f"soilmetal:{algorithm_id}")
    assert alg is not None
    parameters = {p.name() for p in alg.parameterDefinitions()}
    outputs = {o.name() for o in alg.outputDefinitions()}
    wanted_parameters, wanted_outputs = CONTRACT[algorithm_id]
    assert set(wanted_parameters) <= parameters, set(wanted_parameters) - parameters
    assert set(wanted_outputs) <= outputs, set(wanted_outputs) - outputs
