"""The Processing algorithms: one thin wrapper per file."""


def all_algorithms():
    """One instance of every soilmetal algorithm, in toolbox order."""
    return []
