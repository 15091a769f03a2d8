"""Landsat 8 OLI reflectance factors and spectral indices (Yang et al. 2023, Table 1).

Functions on reflectance (0-1) arrays of any one shape: the factor names, the band values'
scaling to reflectance, the index formulas and the tasseled cap. The raster pass that reads a
stack or product block by block is core/workflows/spectral_indices.py.
"""

import enum

import numpy as np

from ..errors import SoilMetalError
from .choices import ordered_choices

# Output factors, in the order they are written.
ALL_FACTORS = ("B2", "B3", "B4", "B5", "B6", "B7", "NDVI", "EVI", "DVI", "RVI", "MNDWI", "CMR",
               "BRIGHTNESS", "GREENNESS", "WETNESS")

# Reflectance inputs, in the order of the BAND_* parameters; OLI band number of each.
BAND_KEYS = ("blue", "green", "red", "nir", "swir1", "swir2")
OLI_BAND_NUMBERS = {"blue": 2, "green": 3, "red": 4, "nir": 5, "swir1": 6, "swir2": 7}
_BAND_FACTOR = {"B2": "blue", "B3": "green", "B4": "red", "B5": "nir", "B6": "swir1", "B7": "swir2"}

# Tasseled cap coefficients for OLI B2..B7 reflectance (Baig et al. 2014).
TASSELED_CAP = {
    "BRIGHTNESS": (0.3029, 0.2786, 0.4733, 0.5599, 0.5080, 0.1872),
    "GREENNESS": (-0.2941, -0.2430, -0.5424, 0.7276, 0.0713, -0.1608),
    "WETNESS": (0.1511, 0.1973, 0.3283, 0.3407, -0.7117, -0.4559),
}

FACTOR_BANDS = {
    "B2": ("blue",), "B3": ("green",), "B4": ("red",), "B5": ("nir",), "B6": ("swir1",),
    "B7": ("swir2",),
    "NDVI": ("red", "nir"), "EVI": ("blue", "red", "nir"), "DVI": ("red", "nir"),
    "RVI": ("red", "nir"), "MNDWI": ("green", "swir1"), "CMR": ("swir1", "swir2"),
    "BRIGHTNESS": BAND_KEYS, "GREENNESS": BAND_KEYS, "WETNESS": BAND_KEYS,
}

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class Scale(enum.IntEnum):
    """How the input band values map to 0-1 reflectance (the SCALE parameter's indices)."""

    REFLECTANCE = 0        # already 0-1 reflectance
    LANDSAT_C2_L2 = 1      # Collection 2 Level-2 integers: DN * 0.0000275 - 0.2 (DN 0 = fill)
    INTEGER_1E4 = 2        # integers scaled by 10000: DN * 0.0001


SCALE_COEFFICIENTS = {Scale.REFLECTANCE: (1.0, 0.0), Scale.LANDSAT_C2_L2: (0.0000275, -0.2),
                      Scale.INTEGER_1E4: (0.0001, 0.0)}
SCALE_LABELS = {Scale.REFLECTANCE: "reflectance 0-1",
                Scale.LANDSAT_C2_L2: "Landsat Collection 2 Level-2 integers (x 0.0000275 - 0.2)",
                Scale.INTEGER_1E4: "integers x 0.0001"}


def normalise_factors(factors=None):
    """Validated factor names (None = all), deduplicated, in ALL_FACTORS order."""
    if factors is None:
        return list(ALL_FACTORS)
    chosen = ordered_choices(factors, ALL_FACTORS, "spectral factor(s)")
    if not chosen:
        raise SoilMetalError("No spectral factor was chosen. Choose at least one of "
                             f"{', '.join(ALL_FACTORS)}.")
    return chosen


def bands_needed(factors):
    """The reflectance bands (subset of BAND_KEYS, in that order) the given factors read."""
    needed = {key for name in normalise_factors(factors) for key in FACTOR_BANDS[name]}
    return [key for key in BAND_KEYS if key in needed]


def to_reflectance(values, scale):
    """Scaled band values (any shape, NaN = nodata) -> float64 reflectance of the same shape."""
    scale = Scale(int(scale))
    gain, offset = SCALE_COEFFICIENTS[scale]
    values = np.asarray(values, dtype=np.float64)
    if scale == Scale.REFLECTANCE:
        return values
    reflectance = values * gain
    if offset:
        reflectance += offset
    if scale == Scale.LANDSAT_C2_L2:
        # DN 0 is Collection 2's fill value, also where the file carries no nodata tag.
        reflectance[values == 0] = np.nan
    return reflectance


def safe_ratio(numerator, denominator):
    """numerator / denominator (same shapes) with NaN, never inf, where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.divide(numerator, denominator)
    # One test catches 0/0, x/0 and results too large for the Float32 output.
    ratio[~(np.abs(ratio) <= _FLOAT32_MAX)] = np.nan
    return ratio


def tasseled_cap(reflectance, component):
    """One tasseled cap component ('BRIGHTNESS', 'GREENNESS', 'WETNESS') from the six bands."""
    coefficients = TASSELED_CAP[component]
    result = np.multiply(reflectance[BAND_KEYS[0]], coefficients[0])
    term = np.empty_like(result)
    for key, coefficient in zip(BAND_KEYS[1:], coefficients[1:]):
        result += np.multiply(reflectance[key], coefficient, out=term)
    return result


def iter_factors(reflectance, factors=None):
    """Yield (factor name, float64 array) one at a time, in ALL_FACTORS order; see compute_factors.

    Yielding lets a caller write each factor and free it before the next is computed.
    """
    names = normalise_factors(factors)
    needed = bands_needed(names)
    missing = [key for key in needed if key not in reflectance]
    if missing:
        raise ValueError(f"compute_factors needs the band(s) {', '.join(missing)}")
    band = {key: np.asarray(reflectance[key], dtype=np.float64) for key in needed}
    nir_minus_red = None
    with np.errstate(invalid="ignore", over="ignore"):
        for name in names:
            if name in ("NDVI", "EVI", "DVI") and nir_minus_red is None:
                nir_minus_red = band["nir"] - band["red"]
            if name in _BAND_FACTOR:
                yield name, band[_BAND_FACTOR[name]]
            elif name == "NDVI":
                yield name, safe_ratio(nir_minus_red, band["nir"] + band["red"])
            elif name == "EVI":
                denominator = band["nir"] + 6.0 * band["red"] - 7.5 * band["blue"] + 1.0
                yield name, safe_ratio(2.5 * nir_minus_red, denominator)
            elif name == "DVI":
                yield name, nir_minus_red
            elif name == "RVI":
                yield name, safe_ratio(band["nir"], band["red"])
            elif name == "MNDWI":
                yield name, safe_ratio(band["green"] - band["swir1"], band["green"] + band["swir1"])
            elif name == "CMR":
                yield name, safe_ratio(band["swir1"], band["swir2"])
            else:
                yield name, tasseled_cap(band, name)


def compute_factors(reflectance, factors=None):
    """Factor arrays from a dict of 0-1 reflectance arrays keyed by BAND_KEYS (same shape each).

    Only the bands the chosen factors need are read from `reflectance`. NaN in a band used,
    or a zero denominator, gives NaN. Returns {factor name: float64 array}, in ALL_FACTORS order.
    """
    return dict(iter_factors(reflectance, factors))


def looks_like_scaled_integers(values, threshold=2.0):
    """True when the median of the finite values (any shape) exceeds `threshold`: not 0-1 reflectance."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size > 200_000:
        values = values[:: values.size // 100_000]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return False
    return bool(np.median(values) > threshold)


def default_band_numbers(band_count):
    """Default 1-based (blue, green, red, nir, swir1, swir2): 2-7 for >= 7 bands, else 1-6."""
    return (2, 3, 4, 5, 6, 7) if band_count >= 7 else (1, 2, 3, 4, 5, 6)
