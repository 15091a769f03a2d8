"""Helpers the modelling workflows share: the metal a field name stands for, the factor check,
sample ids and metrics of row subsets.
"""

import re

import numpy as np

from ..errors import SoilMetalError
from ..science.metrics import regression_metrics
from ..science.outliers import hot_spot_warning
from ..sampling import catalogue_factors

# Metals and metalloids measured in soil surveys, for a readable label from a field name.
ELEMENT_SYMBOLS = ("Ag", "Al", "As", "Au", "Ba", "Be", "Bi", "Cd", "Co", "Cr", "Cs", "Cu",
                   "Fe", "Hg", "Li", "Mn", "Mo", "Ni", "Pb", "Pt", "Sb", "Se", "Sn", "Sr",
                   "Th", "Ti", "Tl", "U", "V", "W", "Zn", "Zr")
ELEMENT_NAMES = {"silver": "Ag", "aluminium": "Al", "aluminum": "Al", "arsenic": "As",
                 "gold": "Au", "barium": "Ba", "cadmium": "Cd", "cobalt": "Co",
                 "chromium": "Cr", "copper": "Cu", "iron": "Fe", "mercury": "Hg",
                 "manganese": "Mn", "molybdenum": "Mo", "nickel": "Ni", "lead": "Pb",
                 "antimony": "Sb", "selenium": "Se", "tin": "Sn", "thallium": "Tl",
                 "vanadium": "V", "zinc": "Zn"}


def metal_from_field_name(field_name):
    """The metal a sample field stands for: 'cu_mg_kg' -> 'Cu', 'lead' -> 'Pb', else the field
    (read before training; afterwards the model file's own model.metal says it)."""
    text = str(field_name or "").strip()
    token = re.split(r"[_\s.\-(]", text, maxsplit=1)[0].lower()
    symbols = {symbol.lower(): symbol for symbol in ELEMENT_SYMBOLS}
    if token in symbols:
        return symbols[token]
    if token in ELEMENT_NAMES:
        return ELEMENT_NAMES[token]
    return text


def check_model_factors(model, sources, model_name="The model"):
    """SoilMetalError naming the factors model needs that none of the rasters sources has."""
    catalogue = catalogue_factors(sources)
    missing = [name for name in model.factor_names if name not in catalogue]
    if missing:
        raise SoilMetalError(
            f"{model_name} needs factor(s) {', '.join(missing)}, which the factor rasters do not "
            f"have. Available factors: {', '.join(catalogue) or 'none'}. Give the rasters of "
            f"this period that hold the factors the model was trained on "
            f"({', '.join(model.factor_names)}), with the same band names (e.g. the outputs of "
            "'Spectral indices' and 'Terrain factors').")


def sample_ids_of(table, rows):
    """Sample ids of the given row indices."""
    return [table.ids[int(i)] for i in rows]


def metrics_of_rows(y, pred, rows):
    """regression_metrics of the given rows (empty rows -> NaN metrics, N 0)."""
    return regression_metrics(y[rows], pred[rows])


def members_rmse_of(model, x, y):
    """Each member's RMSE (K,) on x (n, L), y (n,); NaN when there are no samples."""
    if y.size == 0:
        return np.full(model.ensemble_size, np.nan)
    members = model.predict_members(x)
    return np.sqrt(np.mean((members - y[None, :]) ** 2, axis=1))


def warn_hot_spots(prepared, monitor):
    """Log the warning when the outlier rule removed the highest measured values."""
    text = hot_spot_warning(prepared.removed_outliers, prepared.table.values)
    if text:
        monitor.warning(text)
