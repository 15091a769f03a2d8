"""Landsat 8 OLI reflectance factors and spectral indices (Yang et al. 2023, Table 1).

Array-level functions work on reflectance (0-1) arrays of any one shape; the raster-level
`run_spectral_indices` reads a multi-band raster (or a Landsat product through its MTL file)
block by block and writes one Float32 band per chosen factor.
"""

import enum

import numpy as np

from . import landsat, raster_io, sentinel2
from .science import qa_masks, scale_check
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
    """Reads the needed bands of one multi-band raster (and an optional QA raster), applies SCALE."""

    sensor = ""

    def __init__(self, path, bands, scale, keys, qa_path=None, qa_layout="landsat_c2"):
        self.info = raster_io.raster_info(path)
        self.numbers = _resolve_band_numbers(self.info, bands, keys)
        self.keys = keys
        self.scale = Scale(int(scale))
        self.qa_layout = qa_layout
        self._qa = None
        if qa_path:
            qa_masks.check_qa_grid(raster_io.raster_info(qa_path), self.info, qa_path)
            self._qa = raster_io.RasterReader(qa_path)
        self._reader = raster_io.RasterReader(path)

    def read_raw(self, window):
        """{key: raw float64 block} for the needed bands."""
        stack = self._reader.read([self.numbers[key] for key in self.keys], window)
        return dict(zip(self.keys, stack))

    @property
    def has_qa(self):
        """True when a QA band is read for masking."""
        return self._qa is not None

    def read_qa(self, window):
        """The QA block (float64, NaN = QA nodata), or None without a QA band."""
        return None if self._qa is None else self._qa.read([1], window)[0]

    def to_reflectance(self, raw):
        """Raw block values -> reflectance."""
        return {key: to_reflectance(values, self.scale) for key, values in raw.items()}

    def close(self):
        """Release the rasters."""
        self._reader.close()
        if self._qa is not None:
            self._qa.close()


class _LandsatSource:
    """Reads the needed OLI bands from a Landsat product's separate files via its MTL."""

    def __init__(self, mtl_path, keys, use_qa=True):
        self.product = landsat.read_landsat_product(mtl_path)
        self.keys = keys
        self.sensor = self.product.sensor
        self.qa_layout = self.product.qa_layout
        paths = {key: self.product.band_path(OLI_BAND_NUMBERS[key]) for key in keys}
        infos = {key: raster_io.raster_info(path) for key, path in paths.items()}
        self.info = infos[keys[0]]
        for key, info in infos.items():
            if (info.width, info.height) != (self.info.width, self.info.height):
                raise SoilMetalError(
                    f"Landsat band files differ in size: '{info.path}' is {info.width} x "
                    f"{info.height}, '{self.info.path}' is {self.info.width} x {self.info.height}. "
                    "Use the band files of one product, as delivered, next to their MTL file.")
        self.qa_path = self.product.qa_path() if use_qa else None
        self._qa = None
        if self.qa_path:
            qa_masks.check_qa_grid(raster_io.raster_info(self.qa_path), self.info, self.qa_path)
            self._qa = raster_io.RasterReader(self.qa_path)
        self._readers = {key: raster_io.RasterReader(path) for key, path in paths.items()}

    def read_raw(self, window):
        """{key: raw DN float64 block} for the needed bands."""
        return {key: self._readers[key].read([1], window)[0] for key in self.keys}

    @property
    def has_qa(self):
        """True when a QA band is read for masking."""
        return self._qa is not None

    def read_qa(self, window):
        """The QA block (float64), or None when the product has no quality band beside the MTL."""
        return None if self._qa is None else self._qa.read([1], window)[0]

    def to_reflectance(self, raw):
        """DN blocks -> reflectance with the MTL's coefficients."""
        return {key: self.product.reflectance(OLI_BAND_NUMBERS[key], values)
                for key, values in raw.items()}

    def close(self):
        """Release the band files."""
        for reader in self._readers.values():
            reader.close()
        if self._qa is not None:
            self._qa.close()


def open_source(input_path, keys, bands=None, scale=Scale.REFLECTANCE, qa_path=None,
                qa_layout="landsat_c2", use_qa=True, monitor=NULL_MONITOR, s2_resolution=None):
    """The band source of INPUT: a Landsat MTL, a Sentinel-2 L2A product, or a raster stack.

    Returns (source, from_metadata). A source has info, keys, sensor, qa_layout, has_qa, read_raw(window),
    read_qa(window), to_reflectance(raw) and close().
    """
    if landsat.is_mtl_file(input_path):
        source = _LandsatSource(input_path, keys, use_qa=use_qa)
        monitor.info(f"Landsat product {source.product.describe()}; bands B2-B7 are read from its "
                     "band files, so the BAND_* choices and SCALE are ignored: the MTL file's own "
                     "coefficients convert the digital numbers to reflectance.")
        return source, True
    if sentinel2.is_sentinel2_product(input_path):
        source = sentinel2.Sentinel2Source(input_path, keys, use_qa=use_qa, resolution=s2_resolution)
        monitor.info(source.describe() + " BAND_* and SCALE are ignored: the metadata's own "
                     "offset and quantification value convert the digital numbers.")
        return source, True
    source = _StackSource(input_path, bands, scale, keys, qa_path=qa_path if use_qa else None,
                          qa_layout=qa_layout)
    monitor.info("Bands used: " + ", ".join(f"{key} = band {source.numbers[key]}" for key in keys)
                 + f"; values read as {SCALE_LABELS[source.scale]}.")
    return source, False


def apply_mask(source, window, reflectance, classes, counter=None):
    """Set the pixels of the chosen QA classes to NaN in every band of the block (in place);
    counter: a qa_masks.MaskCounter to add the block to, or None."""
    qa = source.read_qa(window)
    if qa is None:
        return
    masked, fill = qa_masks.qa_mask(qa, source.qa_layout, classes)
    if counter is not None:
        counter.add(masked, fill)
    if masked.any():
        for values in reflectance.values():
            values[masked] = np.nan


def run_spectral_indices(input_path, output_path, bands=None, scale=Scale.REFLECTANCE,
                         factors=None, mask=None, qa_path=None, qa_layout="landsat_c2",
                         accept_scale=False, monitor=NULL_MONITOR, block_size=1024,
                         s2_resolution=None):
    """Write the chosen factors of a raster stack, a Landsat MTL or a Sentinel-2 L2A product.

    bands: 1-based (blue, green, red, nir, swir1, swir2) or None for the default; scale: Scale
    (ignored for a metadata input, which scales itself); mask: QA classes set to nodata (None =
    qa_masks.DEFAULT_MASK, [] = none), from the product's QA band or `qa_path` (layout
    `qa_layout`) for a stack; accept_scale: only warn when SCALE does not fit the values;
    s2_resolution: a Sentinel-2 product's grid in metres (10 or 20; None = the finest resolution
    holding every band).
    Returns {"output", "factors", "warnings", "masked_share", "sensor"}.
    """
    names = normalise_factors(factors)
    keys = bands_needed(names)
    classes = qa_masks.normalise_classes(mask)
    warnings = []

    def warn(message):
        warnings.append(message)
        monitor.warning(message)

    source, checked_scale = open_source(input_path, keys, bands, scale, qa_path, qa_layout,
                                        use_qa=bool(classes), monitor=monitor,
                                        s2_resolution=s2_resolution)
    info = source.info
    counter = qa_masks.MaskCounter()
    has_qa = bool(classes) and source.has_qa
    if classes and not has_qa:
        monitor.info("No QA band: nothing is masked (give the product's metadata file, or a QA "
                     "raster, to mask clouds and shadows).")
    elif classes:
        missing = [name for name in qa_masks.MISSING_CLASSES.get(source.qa_layout, ())
                   if name in classes]
        monitor.info(f"Masking {', '.join(classes)} from the {qa_masks.LAYOUT_LABELS[source.qa_layout]}"
                     + (f" (it has no {', '.join(missing)} information)." if missing else "."))
    metadata = {"SENSOR": source.sensor} if source.sensor else None
    try:
        with raster_io.RasterWriter(output_path, info.width, info.height, info.geotransform,
                                    info.crs_wkt, names, metadata=metadata) as writer:
            for window in iter_blocks(info.width, info.height, monitor, block_size):
                raw = source.read_raw(window)
                if not checked_scale:
                    checked_scale = scale_check.check_scale(
                        np.stack(list(raw.values())), source.scale, SCALE_COEFFICIENTS,
                        SCALE_LABELS, accept=accept_scale, warn=warn)
                reflectance = source.to_reflectance(raw)
                if classes and has_qa:
                    apply_mask(source, window, reflectance, classes, counter)
                for index, (_, values) in enumerate(iter_factors(reflectance, names)):
                    writer.write(index, window, values)
            if source.sensor:
                for index in range(len(names)):
                    writer.set_band_metadata(index, {"SENSOR": source.sensor})
    finally:
        source.close()
    share = counter.share if has_qa else 0.0
    if has_qa:
        monitor.info(f"Masked share: {100 * share:.1f} % of the {counter.with_data} pixels with "
                     f"data set to nodata ({', '.join(classes)}).")
    return {"output": str(output_path), "factors": names, "warnings": warnings,
            "masked_share": share, "sensor": source.sensor}
