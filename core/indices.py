"""Landsat 8 OLI reflectance factors and spectral indices (Yang et al. 2023, Table 1).

Array-level functions work on reflectance (0-1) arrays of any one shape; the raster-level
`run_spectral_indices` reads a multi-band raster (or a Landsat product through its MTL file)
block by block and writes one Float32 band per chosen factor.
"""

import enum

import numpy as np

from . import landsat, raster_io
from .blocks import iter_blocks
from .errors import SoilMetalError
from .monitor import NULL_MONITOR

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
    wanted = {str(name).strip().upper() for name in factors if str(name).strip()}
    unknown = sorted(wanted - set(ALL_FACTORS))
    if unknown:
        raise SoilMetalError(f"Unknown spectral factor(s): {', '.join(unknown)}. Choose from "
                             f"{', '.join(ALL_FACTORS)}.")
    if not wanted:
        raise SoilMetalError("No spectral factor was chosen. Choose at least one of "
                             f"{', '.join(ALL_FACTORS)}.")
    return [name for name in ALL_FACTORS if name in wanted]


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


def _resolve_band_numbers(info, bands, keys):
    """Validate the BAND_* choices for the bands `keys` actually read -> {key: 1-based band}."""
    chosen = default_band_numbers(info.band_count) if bands is None else tuple(bands)
    if len(chosen) != len(BAND_KEYS):
        raise SoilMetalError(f"Give six band numbers (blue, green, red, nir, swir1, swir2); got "
                             f"{len(chosen)}.")
    numbers = {}
    for key in keys:
        number = chosen[BAND_KEYS.index(key)]
        if number is None or int(number) < 1 or int(number) > info.band_count:
            origin = " (the default for this raster)" if bands is None else ""
            raise SoilMetalError(
                f"The raster '{info.path}' has {info.band_count} band(s), but band {number} is "
                f"used as the {key} band{origin}. Set BAND_BLUE ... BAND_SWIR2 to band numbers between 1 and "
                f"{info.band_count}, or choose only factors whose bands the raster has "
                "(e.g. a 4-band blue/green/red/nir stack supports B2-B5, NDVI, EVI, DVI, RVI).")
        numbers[key] = int(number)
    return numbers


class _StackSource:
    """Reads the needed bands of one multi-band raster and applies SCALE."""

    def __init__(self, path, bands, scale, keys):
        self.info = raster_io.raster_info(path)
        self.numbers = _resolve_band_numbers(self.info, bands, keys)
        self.keys = keys
        self.scale = Scale(int(scale))
        self._reader = raster_io.RasterReader(path)

    def read_raw(self, window):
        """{key: raw float64 block} for the needed bands."""
        stack = self._reader.read([self.numbers[key] for key in self.keys], window)
        return dict(zip(self.keys, stack))

    def to_reflectance(self, raw):
        """Raw block values -> reflectance."""
        return {key: to_reflectance(values, self.scale) for key, values in raw.items()}

    def close(self):
        """Release the raster."""
        self._reader.close()


class _LandsatSource:
    """Reads the needed OLI bands from a Landsat product's separate files via its MTL."""

    def __init__(self, mtl_path, keys):
        self.product = landsat.read_landsat_product(mtl_path)
        self.keys = keys
        paths = {key: self.product.band_path(OLI_BAND_NUMBERS[key]) for key in keys}
        infos = {key: raster_io.raster_info(path) for key, path in paths.items()}
        self.info = infos[keys[0]]
        for key, info in infos.items():
            if (info.width, info.height) != (self.info.width, self.info.height):
                raise SoilMetalError(
                    f"Landsat band files differ in size: '{info.path}' is {info.width} x "
                    f"{info.height}, '{self.info.path}' is {self.info.width} x {self.info.height}. "
                    "Use the band files of one product, as delivered, next to their MTL file.")
        self._readers = {key: raster_io.RasterReader(path) for key, path in paths.items()}

    def read_raw(self, window):
        """{key: raw DN float64 block} for the needed bands."""
        return {key: self._readers[key].read([1], window)[0] for key in self.keys}

    def to_reflectance(self, raw):
        """DN blocks -> reflectance with the MTL's coefficients."""
        return {key: self.product.reflectance(OLI_BAND_NUMBERS[key], values)
                for key, values in raw.items()}

    def close(self):
        """Release the band files."""
        for reader in self._readers.values():
            reader.close()


def run_spectral_indices(input_path, output_path, bands=None, scale=Scale.REFLECTANCE,
                         factors=None, monitor=NULL_MONITOR, block_size=1024):
    """Write the chosen factors of a multi-band raster or a Landsat MTL product as a Float32 raster.

    bands: 1-based (blue, green, red, nir, swir1, swir2) or None for the default; scale: Scale
    (ignored for an MTL input, whose own coefficients are used). Returns {"output", "factors",
    "warnings"}.
    """
    names = normalise_factors(factors)
    keys = bands_needed(names)
    warnings = []

    def warn(message):
        warnings.append(message)
        monitor.warning(message)

    from_mtl = landsat.is_mtl_file(input_path)
    if from_mtl:
        source = _LandsatSource(input_path, keys)
        product = source.product
        monitor.info(f"Landsat product {product.describe()}; bands B2-B7 are read from its "
                     "band files, so the BAND_* choices and SCALE are ignored: the MTL file's own "
                     "coefficients convert the digital numbers to reflectance.")
    else:
        source = _StackSource(input_path, bands, scale, keys)
        monitor.info("Bands used: " + ", ".join(f"{key} = band {source.numbers[key]}"
                                                for key in keys)
                     + f"; values read as {SCALE_LABELS[source.scale]}.")
    info = source.info
    checked_scale = from_mtl
    try:
        with raster_io.RasterWriter(output_path, info.width, info.height, info.geotransform,
                                    info.crs_wkt, names) as writer:
            for window in iter_blocks(info.width, info.height, monitor, block_size):
                raw = source.read_raw(window)
                if not checked_scale:
                    checked_scale = _check_scale(raw, source.scale, warn)
                for index, (_, values) in enumerate(
                        iter_factors(source.to_reflectance(raw), names)):
                    writer.write(index, window, values)
    finally:
        source.close()
    return {"output": str(output_path), "factors": names, "warnings": warnings}


def _check_scale(raw, scale, warn):
    """Warn once when the values contradict SCALE; True once a block with data was seen."""
    values = np.stack(list(raw.values()))
    if not np.isfinite(values).any():
        return False
    scaled = looks_like_scaled_integers(values)
    if scale == Scale.REFLECTANCE and scaled:
        median = float(np.nanmedian(values))
        warn(f"SCALE says the bands are 0-1 reflectance, but their values look like scaled "
             f"integers (median {median:.4g}). Choose SCALE 'Landsat Collection 2 Level-2 "
             "integers' or 'integers x 0.0001' to match how the product was scaled; otherwise "
             "the band factors and tasseled cap components are not reflectance.")
    elif scale != Scale.REFLECTANCE and not scaled:
        median = float(np.nanmedian(values))
        warn(f"SCALE says the bands are scaled integers ({SCALE_LABELS[scale]}), but their values "
             f"look like 0-1 reflectance already (median {median:.4g}). Choose SCALE "
             "'reflectance 0-1' if the raster holds reflectance.")
    return True
