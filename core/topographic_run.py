"""The topographic correction of a whole raster or product, block by block, with its report.

Pass 1 computes cos(i) from the DEM on the image grid and accumulates each band's regression
on it (on every k-th block of a large scene, at least FIT_BLOCKS blocks); pass 2 corrects and writes
the bands (and cos(i) when asked) and measures the correlation with cos(i) after the correction on the same pixels.
"""

import os
import shutil
import tempfile

import numpy as np

from . import indices, landsat, raster_io, sentinel2, terrain
from .science import qa_masks, topographic
from .blocks import iter_blocks
from .errors import SoilMetalError
from .monitor import NULL_MONITOR
from .reports.html import HtmlReport

FIT_BLOCKS = 16
KEY_FACTOR = {key: f"B{number}" for key, number in indices.OLI_BAND_NUMBERS.items()}


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
        self.source, _ = indices.open_source(path, keys, use_qa=use_qa, monitor=monitor)
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
            indices.apply_mask(self.source, window, reflectance, classes, counter)
        return [reflectance[key] for key in self.keys]

    def close(self):
        """Release the band files."""
        self.source.close()


def _available_keys(path):
    """The BAND_KEYS whose band file the product (Landsat MTL or Sentinel-2 L2A) has."""
    if landsat.is_mtl_file(path):
        product = landsat.read_landsat_product(path)
        keys = []
        for key in indices.BAND_KEYS:
            try:
                product.band_path(indices.OLI_BAND_NUMBERS[key])
            except SoilMetalError:
                continue
            keys.append(key)
        return keys
    product = sentinel2.read_sentinel2_product(path)
    return [key for key in indices.BAND_KEYS
            if any((sentinel2.band_name(key, resolution), resolution) in product.files
                   for resolution in sentinel2.RESOLUTIONS)]


def _check_integers(block, warn):
    """Warn once when raster bands look like scaled integers (an offset biases c); True once seen."""
    values = np.stack(block)
    if not np.isfinite(values).any():
        return False
    if indices.looks_like_scaled_integers(values):
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


def run_topographic_correction(input_path, dem_path, output_path, method="c", sun_azimuth=None,
                               sun_elevation=None, dem_band=1, mask=None, fit_mask_path=None,
                               illumination_path=None, report_path=None, monitor=NULL_MONITOR,
                               block_size=1024):
    """Correct every band of INPUT for terrain illumination; see core.topographic for the methods.

    input_path: a reflectance raster (bands as they are, names kept) or a Landsat MTL /
    Sentinel-2 L2A product (bands B2-B7 in reflectance, QA classes `mask` set to nodata); the
    DEM is warped (bilinear) onto the image grid when it is not on it. sun_azimuth /
    sun_elevation (degrees) override the metadata's. Returns {"output", "illumination", "report",
    "bands": [{band, parameter, r_before, r_after, n_fit}], "sun_azimuth", "sun_elevation",
    "method", "warnings", "masked_share"}.
    """
    if method not in topographic.METHODS:
        raise SoilMetalError(f"Unknown method '{method}'. Choose one of {', '.join(topographic.METHODS)}.")
    warnings = []

    def warn(message):
        warnings.append(message)
        monitor.warning(message)

    classes = qa_masks.normalise_classes(mask)
    from_product = landsat.is_mtl_file(input_path) or sentinel2.is_sentinel2_product(input_path)
    bands = _ProductBands(input_path, bool(classes), monitor) if from_product else _RasterBands(input_path)
    temp_folder = tempfile.mkdtemp(prefix="soilmetal_topo_")
    fit_reader = dem_reader = None
    try:
        info = bands.info
        azimuth, elevation = _sun(bands, sun_azimuth, sun_elevation, monitor)
        cos_zenith = float(np.cos(np.radians(90.0 - elevation)))
        dem_info = raster_io.raster_info(dem_path)
        if not 1 <= int(dem_band) <= dem_info.band_count:
            raise SoilMetalError(f"The DEM '{dem_path}' has {dem_info.band_count} band(s); band "
                                 f"{dem_band} was asked for. Choose a band that exists.")
        dem_on_grid, work_band = str(dem_path), int(dem_band)
        if not dem_info.same_grid(info):
            dem_on_grid = terrain.warp_dem(dem_path, dem_info, dem_band, info, temp_folder,
                                           monitor=monitor)
            work_band = 1
        grid = raster_io.raster_info(dem_on_grid)
        terrain.check_north_up(grid)
        dx, dy = terrain.cell_sizes(grid, warn)
        dem_reader = raster_io.RasterReader(dem_on_grid)
        fit_reader = _fit_mask_reader(fit_mask_path, info)

        def illumination(window):
            factors = terrain.window_factors(dem_reader, window, work_band, grid, dx, dy)
            return factors["SLOPE"], topographic.cos_incidence(factors["SLOPE"], factors["ASPECT"],
                                                               azimuth, elevation)

        def fit_use(window):
            if fit_reader is None:
                return None
            values = fit_reader.read([1], window)[0]
            return np.isfinite(values) & (values != 0)

        count = len(bands.names)
        fit = [topographic.Moments() for _ in range(count)]
        before = [topographic.Moments() for _ in range(count)]
        counter = qa_masks.MaskCounter()
        lit = 0
        checked_scale = False
        # Fitting needs a sample, not every pixel: a large scene is fitted (and its correlations
        # measured) on every k-th block, at least FIT_BLOCKS of them, which saves a full read.
        total = len(list(iter_blocks(info.width, info.height, NULL_MONITOR, block_size)))
        stride = max(1, total // FIT_BLOCKS)
        sampled = set(range(0, total, stride))
        blocks = enumerate(iter_blocks(info.width, info.height, monitor.child(0.0, 45.0 / stride),
                                       block_size))
        for number, window in blocks:
            if number not in sampled:
                continue
            slope, cos_i = illumination(window)
            use = fit_use(window)
            lit += int(np.isfinite(cos_i).sum())
            block = bands.read(window, classes, counter)
            if not checked_scale and isinstance(bands, _RasterBands):
                checked_scale = _check_integers(block, warn)
            for index, values in enumerate(block):
                ok = topographic.fit_pixels(values, cos_i, use)
                topographic.add_fit_sample(method, fit[index], values, cos_i, cos_zenith, ok)
                before[index].add(cos_i[ok], values[ok])
        if lit == 0:
            raise SoilMetalError(
                f"The DEM '{dem_path}' has no elevation on any pixel of the image "
                f"({raster_io.describe_window_extent(info)}). Choose a DEM that covers the image.")
        parameters = [topographic.fitted_parameter(method, fit[i], bands.names[i], warn)
                      for i in range(count)]
        after = [topographic.Moments() for _ in range(count)]
        metadata = {"TOPOGRAPHIC_CORRECTION": topographic.METHOD_LABELS[method],
                    "SUN_AZIMUTH": f"{azimuth:.4f}", "SUN_ELEVATION": f"{elevation:.4f}"}
        if bands.sensor:
            metadata["SENSOR"] = bands.sensor
        illumination_writer = None
        with raster_io.RasterWriter(output_path, info.width, info.height, info.geotransform,
                                    info.crs_wkt, bands.names, metadata=metadata) as writer:
            if illumination_path:
                illumination_writer = raster_io.RasterWriter(
                    illumination_path, info.width, info.height, info.geotransform, info.crs_wkt,
                    ["COS_I"], metadata=metadata)
            try:
                for number, window in enumerate(iter_blocks(
                        info.width, info.height, monitor.child(45.0 / stride, 100.0), block_size)):
                    slope, cos_i = illumination(window)
                    use = fit_use(window) if number in sampled else None
                    for index, values in enumerate(bands.read(window, classes, None)):
                        corrected = topographic.correct(method, values, cos_i, slope, cos_zenith,
                                                        parameters[index])
                        if number in sampled:
                            ok = topographic.fit_pixels(values, cos_i, use) & np.isfinite(corrected)
                            after[index].add(cos_i[ok], corrected[ok])
                        writer.write(index, window, corrected)
                    if illumination_writer is not None:
                        illumination_writer.write(0, window, cos_i)
                if bands.sensor:
                    for index in range(count):
                        writer.set_band_metadata(index, {"SENSOR": bands.sensor})
            except BaseException:
                if illumination_writer is not None:
                    illumination_writer.abort()
                raise
            if illumination_writer is not None:
                illumination_writer.commit()
    finally:
        for reader in (dem_reader, fit_reader):
            if reader is not None:
                reader.close()
        bands.close()
        shutil.rmtree(temp_folder, ignore_errors=True)
    rows = [{"band": bands.names[i], "parameter": parameters[i], "n_fit": fit[i].n or before[i].n,
             "r_before": before[i].correlation(), "r_after": after[i].correlation()}
            for i in range(count)]
    for row in rows:
        monitor.info(f"{row['band']}: correlation with cos(i) {row['r_before']:.3f} before, "
                     f"{row['r_after']:.3f} after" + ("" if row["parameter"] is None else
                                                      f" (parameter {row['parameter']:.4g})"))
    share = counter.share if bands.has_qa and classes else 0.0
    result = {"output": str(output_path), "illumination": illumination_path, "report": report_path,
              "fit_blocks": (len(sampled), total),
              "bands": rows, "sun_azimuth": azimuth, "sun_elevation": elevation, "method": method,
              "warnings": warnings, "masked_share": share}
    if report_path:
        write_report(result, input_path, dem_path, report_path)
    return result


def write_report(result, input_path, dem_path, report_path):
    """The HTML report: per band the fitted parameter and the correlation with cos(i) before/after."""
    method = result["method"]
    parameter_name = {"c": "c", "scs_c": "c", "minnaert": "k"}.get(method)
    report = HtmlReport("Topographic correction")
    report.key_values({
        "Input": os.path.basename(str(input_path)), "DEM": os.path.basename(str(dem_path)),
        "Method": topographic.METHOD_LABELS[method],
        "Sun azimuth (deg)": round(result["sun_azimuth"], 3),
        "Sun elevation (deg)": round(result["sun_elevation"], 3),
        "QA-masked share of the pixels with data": round(result["masked_share"], 4),
        "Blocks fitted and measured": "{} of {}".format(*result["fit_blocks"])})
    report.paragraph(
        "cos(i) = cos Z cos s + sin Z sin s cos(sun azimuth - aspect), Z the solar zenith, s the "
        "slope. A corrected band should no longer depend on illumination: its correlation with "
        f"cos(i) should fall to about 0. Parameters are fitted on the valid pixels with cos(i) > "
        f"{topographic.MIN_COS_I} (inside the fitting mask when one is given); the correlations "
        "are measured on the same pixels.")
    table = []
    for row in result["bands"]:
        entry = {"band": row["band"], "pixels": row["n_fit"],
                 "r with cos(i) before": row["r_before"], "r with cos(i) after": row["r_after"]}
        if parameter_name:
            entry[parameter_name] = ("not corrected" if row["parameter"] is None
                                     else row["parameter"])
        table.append(entry)
    report.table(table, float_format="{:.4f}")
    for message in result["warnings"]:
        report.note(message, kind="warning")
    report.save(report_path)
