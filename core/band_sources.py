"""Band sources: the reflectance bands of one input, read block by block, with its QA band.

A source has info (the grid's RasterInfo), keys (the BAND_KEYS it reads), sensor, qa_layout,
has_qa, read_raw(window), read_qa(window), mask(window, reflectance, classes, counter),
to_reflectance(raw) and close(). StackSource reads a multi-band raster (BAND_* numbers, SCALE);
core.landsat.LandsatSource and core.sentinel2.Sentinel2Source read a product's band files.
"""

import numpy as np

from . import raster_io
from .errors import SoilMetalError
from .science import qa_masks
from .science.indices import BAND_KEYS, Scale, default_band_numbers, to_reflectance


class BandSource:
    """What every band source shares: its band readers, the optional QA reader and the masking."""

    sensor = ""
    qa_layout = "landsat_c2"

    def __init__(self):
        self._readers = {}
        self._qa = None

    def _open_qa(self, qa_path):
        """Read the QA band at qa_path, refused when its grid differs from the image's."""
        qa_masks.check_qa_grid(raster_io.raster_info(qa_path), self.info, qa_path)
        self._qa = raster_io.RasterReader(qa_path)

    @property
    def has_qa(self):
        """True when a QA band is read for masking."""
        return self._qa is not None

    def read_qa(self, window):
        """The QA block (float64, NaN = QA nodata), or None without a QA band."""
        return None if self._qa is None else self._qa.read([1], window)[0]

    def mask(self, window, reflectance, classes, counter=None):
        """Set the pixels of the chosen QA classes to NaN in every band of the block (in place);
        counter: a qa_masks.MaskCounter to add the block to, or None."""
        qa = self.read_qa(window)
        if qa is None:
            return
        masked, fill = qa_masks.qa_mask(qa, self.qa_layout, classes)
        if counter is not None:
            counter.add(masked, fill)
        if masked.any():
            for values in reflectance.values():
                values[masked] = np.nan

    def close(self):
        """Release the band and QA rasters."""
        for reader in self._readers.values():
            reader.close()
        if self._qa is not None:
            self._qa.close()


def resolve_band_numbers(info, bands, keys):
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


class StackSource(BandSource):
    """Reads the needed bands of one multi-band raster (and an optional QA raster), applies SCALE."""

    def __init__(self, path, bands, scale, keys, qa_path=None, qa_layout="landsat_c2"):
        super().__init__()
        self.info = raster_io.raster_info(path)
        self.numbers = resolve_band_numbers(self.info, bands, keys)
        self.keys = keys
        self.scale = Scale(int(scale))
        self.qa_layout = qa_layout
        if qa_path:
            self._open_qa(qa_path)
        self._readers = {"stack": raster_io.RasterReader(path)}

    def read_raw(self, window):
        """{key: raw float64 block} for the needed bands."""
        stack = self._readers["stack"].read([self.numbers[key] for key in self.keys], window)
        return dict(zip(self.keys, stack))

    def to_reflectance(self, raw):
        """Raw block values -> reflectance."""
        return {key: to_reflectance(values, self.scale) for key, values in raw.items()}
