"""The provider as QGIS sees it: every algorithm present, documented, grouped; plugin lifecycle."""

import configparser

import pytest
from qgis.core import QgsApplication, QgsProcessingDestinationParameter

from support import ROOT

EXPECTED = {
    "spectralindices": "factorpreparation", "terrainfactors": "factorpreparation",
    "topographiccorrection": "factorpreparation",
    "selectfactors": "modelling", "traingabp": "modelling", "transfergabp": "modelling",
    "evaluatemodel": "modelling", "predictcontent": "mappingandreporting",
    "contentstatistics": "mappingandreporting",
}


def provider():
    return QgsApplication.processingRegistry().providerById("soilmetal")


def test_provider_is_registered_with_icon_and_version(plugin):
    prov = provider()
    assert prov is not None
    assert prov.name() == "Soil heavy metal retrieval"
    assert not prov.icon().isNull()
    assert prov.svgIconPath().endswith("soilmetal.svg")
    metadata = configparser.ConfigParser()
    metadata.read(ROOT / "metadata.txt")
    assert prov.versionInfo() == metadata["general"]["version"]


def test_every_algorithm_of_the_interface_is_there():
    ids = {alg.name() for alg in provider().algorithms()}
    assert ids == set(EXPECTED) | {"trgabpworkflow"}


@pytest.mark.parametrize("algorithm_id", sorted(EXPECTED))
def test_algorithm_is_documented_grouped_and_instantiable(plugin, algorithm_id):
    alg = QgsApplication.processingRegistry().algorithmById(f"soilmetal:{algorithm_id}")
    assert alg is not None, f"soilmetal:{algorithm_id} missing"
    assert alg.groupId() == EXPECTED[algorithm_id]
    assert alg.group() in ("Factor preparation", "Modelling", "Mapping and reporting")
    assert alg.displayName() and alg.displayName() != algorithm_id
    assert len(alg.shortHelpString()) > 200
    assert not alg.icon().isNull()
    assert type(alg.createInstance()) is type(alg)
    for parameter in alg.parameterDefinitions():
        assert parameter.help().strip(), f"{algorithm_id}: parameter {parameter.name()} has no help"
        assert parameter.name() == parameter.name().upper()
        if isinstance(parameter, QgsProcessingDestinationParameter) and \
                parameter.name() not in ("OUTPUT", "OUTPUT_MODEL"):
            assert parameter.flags() & parameter.FlagOptional, \
                f"{algorithm_id}: {parameter.name()} must be optional (qgis_process 3.22 refuses it otherwise)"


def test_init_processing_is_idempotent_and_unload_removes_the_provider(plugin):
    registry = QgsApplication.processingRegistry()
    first = plugin.provider
    plugin.initProcessing()
    plugin.initProcessing()
    assert plugin.provider is first
    assert len([p for p in registry.providers() if p.id() == "soilmetal"]) == 1
    plugin.unload()
    assert registry.providerById("soilmetal") is None
    plugin.initProcessing()
    assert registry.providerById("soilmetal") is not None
    assert registry.algorithmById("soilmetal:predictcontent") is not None
