"""The public contract of docs/INTERFACE.md: every id, parameter and output key it names exists.

Both tables count: the first round (ids, inputs, outputs) and the names "added in the second
round". A second-round name that no algorithm has yet is listed in PENDING with the issue that
adds it. When you implement one, delete its line from PENDING: the test fails while a name that
exists is still listed (so the list only shrinks) and fails for any missing name not listed.
"""

import re

import pytest
from qgis.core import QgsApplication

from support import ROOT

INTERFACE = ROOT / "docs" / "INTERFACE.md"
SECOND_ROUND = "### Added in the second round"

# Not implemented yet: "algorithm" (a whole algorithm) or "algorithm.NAME" -> the issue adding it.
PENDING = {
}


def upper_names(text):
    """The backticked UPPER_CASE names in a table cell (parameter or output keys)."""
    return re.findall(r"`([A-Z][A-Z0-9_]*)`", text)


def table_rows(text):
    """The cells of each markdown table row whose first cell names algorithm ids in backticks."""
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            ids = re.findall(r"`([a-z][a-z0-9]*)`", cells[0])
            if ids:
                yield ids, cells[1:]


def contract():
    """[(algorithm id, 'parameter' or 'output', name)] of both tables, and the first-round ids."""
    text = INTERFACE.read_text(encoding="utf-8")
    first, second = text.split(SECOND_ROUND)
    entries, first_ids = [], []
    for ids, cells in table_rows(first):         # id | what it does | inputs | outputs
        first_ids += ids
        entries += [(i, "parameter", n) for i in ids for n in upper_names(cells[1])]
        entries += [(i, "output", n) for i in ids for n in upper_names(cells[2])]
    for ids, cells in table_rows(second):        # id | adds inputs | adds outputs
        entries += [(i, "parameter", n) for i in ids for n in upper_names(cells[0])]
        entries += [(i, "output", n) for i in ids for n in upper_names(cells[1])]
    return entries, first_ids


ENTRIES, FIRST_ROUND_IDS = contract()
ALGORITHM_IDS = sorted({entry[0] for entry in ENTRIES})


def algorithm(algorithm_id):
    return QgsApplication.processingRegistry().algorithmById(f"soilmetal:{algorithm_id}")


def test_the_contract_was_read():
    assert len(FIRST_ROUND_IDS) == 8
    assert ("traingabp", "parameter", "SEED") in ENTRIES
    assert ("transfergabp", "output", "BETA") in ENTRIES
    assert ("traingabp", "parameter", "CV") in ENTRIES and ("transfergabp", "parameter", "CV") in ENTRIES
    assert ("predictcontent", "output", "OUTPUT_AOA") in ENTRIES
    assert ("topographiccorrection", "parameter", "SUN_ELEVATION") in ENTRIES


def test_every_pending_entry_is_in_the_contract():
    known = set(ALGORITHM_IDS) | {f"{a}.{n}" for a, _, n in ENTRIES}
    assert set(PENDING) <= known, sorted(set(PENDING) - known)


@pytest.mark.parametrize("algorithm_id", ALGORITHM_IDS)
def test_algorithm_keeps_the_contract(plugin, algorithm_id):
    alg = algorithm(algorithm_id)
    if algorithm_id in PENDING:
        assert alg is None, (f"soilmetal:{algorithm_id} exists now: delete '{algorithm_id}' "
                             "from PENDING in this test")
        return
    assert alg is not None, f"soilmetal:{algorithm_id} is missing (and not in PENDING)"
    present = {"parameter": {p.name() for p in alg.parameterDefinitions()},
               "output": {o.name() for o in alg.outputDefinitions()}}
    missing, implemented = [], []
    for _, kind, name in (e for e in ENTRIES if e[0] == algorithm_id):
        key = f"{algorithm_id}.{name}"
        if key in PENDING and name in present[kind]:
            implemented.append(key)
        elif key not in PENDING and name not in present[kind]:
            missing.append(f"{kind} {name}")
    assert not missing, f"soilmetal:{algorithm_id} lacks {missing} (not in PENDING)"
    assert not implemented, f"implemented now, delete from PENDING in this test: {implemented}"
