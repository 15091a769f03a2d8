"""The Processing algorithms: one thin wrapper per file."""


def all_algorithms():
    """One instance of every soilmetal algorithm, in toolbox order."""
    from .predict_content import PredictContentAlgorithm
    return [PredictContentAlgorithm()]
