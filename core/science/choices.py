"""Validated choices from a fixed list of names (factors, QA classes): one rule for all of them."""

from ..errors import SoilMetalError


def ordered_choices(names, allowed, what, fold=str.upper):
    """The given names (stripped, case-folded by `fold`, deduplicated) in `allowed` order.

    Blank names are skipped; SoilMetalError names every unknown one and the allowed names, e.g.
    what = "spectral factor(s)" gives "Unknown spectral factor(s): X. Choose from A, B."
    """
    wanted = {fold(str(name).strip()) for name in names if str(name).strip()}
    unknown = sorted(wanted - set(allowed))
    if unknown:
        raise SoilMetalError(f"Unknown {what}: {', '.join(unknown)}. Choose from "
                             f"{', '.join(allowed)}.")
    return [name for name in allowed if name in wanted]
