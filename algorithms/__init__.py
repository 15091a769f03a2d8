"""The Processing algorithms: one thin wrapper per file."""

import importlib

# (module, class) in toolbox order.
ALGORITHMS = (
    ("spectral_indices", "SpectralIndicesAlgorithm"),
    ("terrain_factors", "TerrainFactorsAlgorithm"),
    ("topographic_correction", "TopographicCorrectionAlgorithm"),
    ("select_factors", "SelectFactorsAlgorithm"),
    ("train_gabp", "TrainGaBpAlgorithm"),
    ("transfer_gabp", "TransferGaBpAlgorithm"),
    ("evaluate_model", "EvaluateModelAlgorithm"),
    ("predict_content", "PredictContentAlgorithm"),
    ("content_statistics", "ContentStatisticsAlgorithm"),
)


def all_algorithms():
    """One instance of every soilmetal algorithm, in toolbox order."""
    return [getattr(importlib.import_module(f".{module_name}", __name__), class_name)()
            for module_name, class_name in ALGORITHMS]
