"""topographiccorrection's workflow: every band of a raster or product corrected for terrain
illumination, block by block -> TopographicRun (its report is core/reports/topographic.py).

Pass 1 computes cos(i) from the DEM on the image grid and accumulates each band's regression
on it (on every k-th block of a large scene, at least FIT_BLOCKS blocks); pass 2 corrects and writes
the bands (and cos(i) when asked) and measures the correlation with cos(i) after the correction on the same pixels.
The methods are core/science/topographic.py.
"""

import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import landsat, raster_io, sentinel2
from ..blocks import iter_blocks
from ..errors import SoilMetalError
from ..monitor import NULL_MONITOR
from ..science import qa_masks, topographic
from ..science.indices import BAND_KEYS, OLI_BAND_NUMBERS, looks_like_scaled_integers
from .factor_rasters import BandStatistics, WarningLog
from .spectral_indices import open_source
from .terrain_factors import cell_sizes, check_north_up, warp_dem, window_factors

FIT_BLOCKS = 16
KEY_FACTOR = {key: f"B{number}" for key, number in OLI_BAND_NUMBERS.items()}


@dataclass
class TopographicRun:
    """What one topographiccorrection run wrote and measured."""

    input_path: str
    dem_path: str
    output: str
    illumination: Optional[str]
    method: str
    sun_azimuth: float
    sun_elevation: float
    bands: list                   # [{band, parameter, n_fit, r_before, r_after}]
    fit_blocks: tuple             # (blocks fitted and measured, blocks)
    masked_share: float = 0.0
    warnings: list = field(default_factory=list)
    statistics: list = field(default_factory=list)   # BandStatistics.rows() of the output


class _RasterBands:
    """Every band of a multi-band raster, values as they are, names kept."""

    sensor = ""
    has_qa = False
    sun = (None, None)

    def __init__(self, path):
        self.info = raster_io.raster_info(path)
        self.names = list(self.info.band_names)
        self._reader = raster_io.RasterReader(path)

    def read(self, window, classes=None, counter=None):
        """[float64 block per band]."""
        return list(self._reader.read(list(range(1, self.info.band_count + 1)), window))

    def close(self):
        """Release the raster."""
        self._reader.close()


class _ProductBands:
    """The reflectance bands (B2-B7 names) of a Landsat MTL or Sentinel-2 L2A product, QA-masked."""

    def __init__(self, path, use_qa, monitor):
        keys = _available_keys(path)
        if not keys:
            raise SoilMetalError(f"No reflectance band file of the product '{path}' was found. Keep "
                                 "the band files beside the metadata file, as delivered.")
        self.source, _ = open_source(path, keys, use_qa=use_qa, monitor=monitor)
        self.keys = keys
        self.names = [KEY_FACTOR[key] for key in keys]
        self.info = self.source.info
        self.sensor = self.source.sensor
        self.has_qa = self.source.has_qa
        product = self.source.product
        self.sun = (product.sun_azimuth, product.sun_elevation)

    def read(self, window, classes=None, counter=None):
        """[reflectance block per band], QA classes set to NaN."""
        reflectance = self.source.to_reflectance(self.source.read_raw(window))
        if classes and self.has_qa:
            self.source.mask(window, reflectance, classes, counter)
        return [reflectance[key] for key in self.keys]

    def close(self):
        """Release the band files."""
        self.source.close()


def _available_keys(path):
    """The BAND_KEYS whose band file the product (Landsat MTL or Sentinel-2 L2A) has."""
    if landsat.is_mtl_file(path):
        product = landsat.read_landsat_product(path)
        keys = []
        for key in BAND_KEYS:
            try:
                product.band_path(OLI_BAND_NUMBERS[key])
            except SoilMetalError:
                continue
            keys.append(key)
        return keys
    product = sentinel2.read_sentinel2_product(path)
    return [key for key in BAND_KEYS
            if any((sentinel2.band_name(key, resolution), resolution) in product.files
                   for resolution in sentinel2.RESOLUTIONS)]


def _check_integers(block, warn):
    """Warn once when raster bands look like scaled integers (an offset biases c); True once seen."""
    values = np.stack(block)
    if not np.isfinite(values).any():
        return False
    if looks_like_scaled_integers(values):
        warn(f"The bands look like scaled integers (median {float(np.nanmedian(values)):.5g}), not "
             "0-1 reflectance. The correction is fitted in those units, and an offset (Landsat "
             "Collection 2: x 0.0000275 - 0.2; Sentinel-2 baseline 04.00: DN - 1000) biases c and k. "
             "Convert the bands to reflectance first (Spectral indices with the right SCALE and "
             "FACTORS B2-B7), or give the product's metadata file as INPUT.")
    return True


def _sun(bands, sun_azimuth, sun_elevation, monitor):
    """(azimuth, elevation): the parameters when given, else the metadata's; checked."""
    meta_azimuth, meta_elevation = bands.sun
    azimuth = sun_azimuth if sun_azimuth is not None else meta_azimuth
    elevation = sun_elevation if sun_elevation is not None else meta_elevation
    azimuth = None if azimuth is None or not np.isfinite(azimuth) else float(azimuth)
    elevation = None if elevation is None or not np.isfinite(elevation) else float(elevation)
    topographic.check_sun(azimuth, elevation)
    origin = ("parameters" if sun_azimuth is not None and sun_elevation is not None
              else "metadata" if sun_azimuth is None and sun_elevation is None else "parameters and metadata")
    monitor.info(f"Sun azimuth {azimuth:.2f} deg, elevation {elevation:.2f} deg (from the {origin}).")
    return azimuth, elevation


def _fit_mask_reader(path, info):
    """A reader of the fitting mask (same size as the image), or None."""
    if not path:
        return None
    mask_info = raster_io.raster_info(path)
    if (mask_info.width, mask_info.height) != (info.width, info.height):
        raise SoilMetalError(
            f"The fitting mask '{path}' is {mask_info.width} x {mask_info.height} pixels, the image "
            f"{info.width} x {info.height}. Give a mask on the image grid (non-zero = use the pixel).")
    return raster_io.RasterReader(path)


class _Illumination:
    """cos(i) and slope of the DEM on the image grid (warped there when needed), block by block."""

    def __init__(self, dem_path, dem_band, info, azimuth, elevation, folder, warn, monitor):
        dem_info = raster_io.raster_info(dem_path)
        if not 1 <= int(dem_band) <= dem_info.band_count:
            raise SoilMetalError(f"The DEM '{dem_path}' has {dem_info.band_count} band(s); band "
                                 f"{dem_band} was asked for. Choose a band that exists.")
        self.path, self.band = str(dem_path), int(dem_band)
        if not dem_info.same_grid(info):
            self.path = warp_dem(dem_path, dem_info, dem_band, info, folder, monitor=monitor)
            self.band = 1
        self.grid = raster_io.raster_info(self.path)
        check_north_up(self.grid)
        self.dx, self.dy = cell_sizes(self.grid, warn)
        self.sun = (azimuth, elevation)
        self._reader = raster_io.RasterReader(self.path)

    def __call__(self, window):
        """(slope, cos i) of one window."""
        factors = window_factors(self._reader, window, self.band, self.grid, self.dx, self.dy)
        return factors["SLOPE"], topographic.cos_incidence(factors["SLOPE"], factors["ASPECT"], *self.sun)

    def close(self):
        """Release the DEM."""
        self._reader.close()


def _fit_use(fit_reader, window):
    """Where the fitting mask allows the fit (bool block), or None without a mask."""
    if fit_reader is None:
        return None
    values = fit_reader.read([1], window)[0]
    return np.isfinite(values) & (values != 0)


class _Pass:
    """The two passes over one image: fit on the sampled blocks, then correct and write every block."""

    def __init__(self, bands, illumination, fit_reader, method, classes, block_size, warn):
        self.bands, self.illumination, self.fit_reader = bands, illumination, fit_reader
        self.method, self.classes, self.block_size, self.warn = method, classes, block_size, warn
        self.cos_zenith = float(np.cos(np.radians(90.0 - illumination.sun[1])))
        info = bands.info
        # Fitting needs a sample, not every pixel: a large scene is fitted (and its correlations
        # measured) on every k-th block, at least FIT_BLOCKS of them, which saves a full read.
        self.total = len(list(iter_blocks(info.width, info.height, NULL_MONITOR, block_size)))
        self.stride = max(1, self.total // FIT_BLOCKS)
        self.sampled = set(range(0, self.total, self.stride))
        count = len(bands.names)
        self.fit = [topographic.Moments() for _ in range(count)]
        self.before = [topographic.Moments() for _ in range(count)]
        self.after = [topographic.Moments() for _ in range(count)]
        self.counter = qa_masks.MaskCounter()
        self.statistics = BandStatistics(bands.names)

    def _blocks(self, monitor):
        """(number, window) of every block of the image."""
        info = self.bands.info
        return enumerate(iter_blocks(info.width, info.height, monitor, self.block_size))

    def fit_parameters(self, dem_path, monitor):
        """Pass 1: accumulate the regressions on the sampled blocks -> [parameter per band]."""
        lit = 0
        checked_scale = False
        for number, window in self._blocks(monitor.child(0.0, 45.0 / self.stride)):
            if number not in self.sampled:
                continue
            _, cos_i = self.illumination(window)
            use = _fit_use(self.fit_reader, window)
            lit += int(np.isfinite(cos_i).sum())
            block = self.bands.read(window, self.classes, self.counter)
            if not checked_scale and isinstance(self.bands, _RasterBands):
                checked_scale = _check_integers(block, self.warn)
            for index, values in enumerate(block):
                ok = topographic.fit_pixels(values, cos_i, use)
                topographic.add_fit_sample(self.method, self.fit[index], values, cos_i, self.cos_zenith, ok)
                self.before[index].add(cos_i[ok], values[ok])
        if lit == 0:
            raise SoilMetalError(
                f"The DEM '{dem_path}' has no elevation on any pixel of the image "
                f"({raster_io.describe_window_extent(self.bands.info)}). Choose a DEM that covers the image.")
        return [topographic.fitted_parameter(self.method, self.fit[i], name, self.warn)
                for i, name in enumerate(self.bands.names)]

    def correct_block(self, number, window, parameters, writer, illumination_writer):
        """Pass 2 on one block: correct and write each band (and cos(i)), measure the sampled ones."""
        slope, cos_i = self.illumination(window)
        use = _fit_use(self.fit_reader, window) if number in self.sampled else None
        for index, values in enumerate(self.bands.read(window, self.classes, None)):
            corrected = topographic.correct(self.method, values, cos_i, slope, self.cos_zenith,
                                            parameters[index])
            if number in self.sampled:
                ok = topographic.fit_pixels(values, cos_i, use) & np.isfinite(corrected)
                self.after[index].add(cos_i[ok], corrected[ok])
            self.statistics.add(index, corrected)
            writer.write(index, window, corrected)
        if illumination_writer is not None:
            illumination_writer.write(0, window, cos_i)

    def write(self, output_path, illumination_path, parameters, metadata, monitor):
        """Pass 2: the corrected bands to output_path, cos(i) to illumination_path (when given)."""
        info, names = self.bands.info, self.bands.names
        illumination_writer = None
        with raster_io.RasterWriter(output_path, info.width, info.height, info.geotransform,
                                    info.crs_wkt, names, metadata=metadata) as writer:
            if illumination_path:
                illumination_writer = raster_io.RasterWriter(
                    illumination_path, info.width, info.height, info.geotransform, info.crs_wkt,
                    ["COS_I"], metadata=metadata)
            try:
                for number, window in self._blocks(monitor.child(45.0 / self.stride, 100.0)):
                    self.correct_block(number, window, parameters, writer, illumination_writer)
                if self.bands.sensor:
                    for index in range(len(names)):
                        writer.set_band_metadata(index, {"SENSOR": self.bands.sensor})
            except BaseException:
                if illumination_writer is not None:
                    illumination_writer.abort()
                raise
            if illumination_writer is not None:
                illumination_writer.commit()

    def rows(self, parameters):
        """[{band, parameter, n_fit, r_before, r_after}] per band."""
        return [{"band": name, "parameter": parameters[i], "n_fit": self.fit[i].n or self.before[i].n,
                 "r_before": self.before[i].correlation(), "r_after": self.after[i].correlation()}
                for i, name in enumerate(self.bands.names)]


def run_topographic_correction(input_path, dem_path, output_path, method="c", sun_azimuth=None,
                               sun_elevation=None, dem_band=1, mask=None, fit_mask_path=None,
                               illumination_path=None, monitor=NULL_MONITOR, block_size=1024):
    """Correct every band of INPUT for terrain illumination; see core.science.topographic.

    input_path: a reflectance raster (bands as they are, names kept) or a Landsat MTL /
    Sentinel-2 L2A product (bands B2-B7 in reflectance, QA classes `mask` set to nodata); the
    DEM is warped (bilinear) onto the image grid when it is not on it. sun_azimuth /
    sun_elevation (degrees) override the metadata's. Writes the corrected bands to output_path
    and cos(i) to illumination_path (when given). Returns a TopographicRun.
    """
    if method not in topographic.METHODS:
        raise SoilMetalError(f"Unknown method '{method}'. Choose one of {', '.join(topographic.METHODS)}.")
    warn = WarningLog(monitor)
    classes = qa_masks.normalise_classes(mask)
    from_product = landsat.is_mtl_file(input_path) or sentinel2.is_sentinel2_product(input_path)
    bands = _ProductBands(input_path, bool(classes), monitor) if from_product else _RasterBands(input_path)
    temp_folder = tempfile.mkdtemp(prefix="soilmetal_topo_")
    fit_reader = illumination = None
    try:
        azimuth, elevation = _sun(bands, sun_azimuth, sun_elevation, monitor)
        illumination = _Illumination(dem_path, dem_band, bands.info, azimuth, elevation,
                                     temp_folder, warn, monitor)
        fit_reader = _fit_mask_reader(fit_mask_path, bands.info)
        passes = _Pass(bands, illumination, fit_reader, method, classes, block_size, warn)
        parameters = passes.fit_parameters(dem_path, monitor)
        metadata = {"TOPOGRAPHIC_CORRECTION": topographic.METHOD_LABELS[method],
                    "SUN_AZIMUTH": f"{azimuth:.4f}", "SUN_ELEVATION": f"{elevation:.4f}"}
        if bands.sensor:
            metadata["SENSOR"] = bands.sensor
        passes.write(output_path, illumination_path, parameters, metadata, monitor)
    finally:
        for reader in (illumination, fit_reader):
            if reader is not None:
                reader.close()
        bands.close()
        shutil.rmtree(temp_folder, ignore_errors=True)
    rows = passes.rows(parameters)
    for row in rows:
        monitor.info(f"{row['band']}: correlation with cos(i) {row['r_before']:.3f} before, "
                     f"{row['r_after']:.3f} after" + ("" if row["parameter"] is None else
                                                      f" (parameter {row['parameter']:.4g})"))
    share = passes.counter.share if bands.has_qa and classes else 0.0
    return TopographicRun(str(input_path), str(dem_path), str(output_path), illumination_path,
                          method, azimuth, elevation, rows, (len(passes.sampled), passes.total),
                          share, list(warn), passes.statistics.rows())
