"""spectralindices' workflow: the bands of a raster stack, a Landsat MTL or a Sentinel-2 L2A
product read block by block, converted to reflectance, QA-masked, and each chosen factor
streamed to the output raster -> SpectralIndicesRun. The formulas are core/science/indices.py.
"""

from dataclasses import dataclass, field

import numpy as np

from .. import landsat, raster_io, sentinel2
from ..band_sources import StackSource
from ..blocks import iter_blocks
from ..monitor import NULL_MONITOR
from ..science import qa_masks, scale_check
from ..science.indices import (SCALE_COEFFICIENTS, SCALE_LABELS, Scale, bands_needed, iter_factors,
                               normalise_factors)
from .factor_rasters import BandStatistics, WarningLog


@dataclass
class SpectralIndicesRun:
    """What one spectralindices run wrote and saw."""

    output: str
    factors: list
    sensor: str = ""
    masked_share: float = 0.0     # of the pixels with data, set to nodata by the QA mask
    warnings: list = field(default_factory=list)
    statistics: list = field(default_factory=list)   # BandStatistics.rows() of the output


def open_source(input_path, keys, bands=None, scale=Scale.REFLECTANCE, qa_path=None,
                qa_layout="landsat_c2", use_qa=True, monitor=NULL_MONITOR, s2_resolution=None):
    """The band source (core.band_sources) of INPUT: a Landsat MTL, a Sentinel-2 L2A product, or
    a raster stack. Returns (source, from_metadata)."""
    if landsat.is_mtl_file(input_path):
        source = landsat.LandsatSource(input_path, keys, use_qa=use_qa)
        monitor.info(f"Landsat product {source.product.describe()}; bands B2-B7 are read from its "
                     "band files, so the BAND_* choices and SCALE are ignored: the MTL file's own "
                     "coefficients convert the digital numbers to reflectance.")
        return source, True
    if sentinel2.is_sentinel2_product(input_path):
        source = sentinel2.Sentinel2Source(input_path, keys, use_qa=use_qa, resolution=s2_resolution)
        monitor.info(source.describe() + " BAND_* and SCALE are ignored: the metadata's own "
                     "offset and quantification value convert the digital numbers.")
        return source, True
    source = StackSource(input_path, bands, scale, keys, qa_path=qa_path if use_qa else None,
                         qa_layout=qa_layout)
    monitor.info("Bands used: " + ", ".join(f"{key} = band {source.numbers[key]}" for key in keys)
                 + f"; values read as {SCALE_LABELS[source.scale]}.")
    return source, False


def _log_masking(source, classes, monitor):
    """Say what the QA band masks (or that there is none to mask with)."""
    if not source.has_qa:
        monitor.info("No QA band: nothing is masked (give the product's metadata file, or a QA "
                     "raster, to mask clouds and shadows).")
        return
    missing = [name for name in qa_masks.MISSING_CLASSES.get(source.qa_layout, ()) if name in classes]
    monitor.info(f"Masking {', '.join(classes)} from the {qa_masks.LAYOUT_LABELS[source.qa_layout]}"
                 + (f" (it has no {', '.join(missing)} information)." if missing else "."))


def _write_factors(source, names, output_path, classes, checked_scale, accept_scale, warn,
                   monitor, block_size):
    """Stream the factors `names` of an open band source to output_path -> (statistics, mask counter)."""
    info = source.info
    counter = qa_masks.MaskCounter()
    statistics = BandStatistics(names)
    metadata = {"SENSOR": source.sensor} if source.sensor else None
    with raster_io.RasterWriter(output_path, info.width, info.height, info.geotransform,
                                info.crs_wkt, names, metadata=metadata) as writer:
        for window in iter_blocks(info.width, info.height, monitor, block_size):
            raw = source.read_raw(window)
            if not checked_scale:
                checked_scale = scale_check.check_scale(
                    np.stack(list(raw.values())), source.scale, SCALE_COEFFICIENTS,
                    SCALE_LABELS, accept=accept_scale, warn=warn)
            reflectance = source.to_reflectance(raw)
            if classes and source.has_qa:
                source.mask(window, reflectance, classes, counter)
            for index, (_, values) in enumerate(iter_factors(reflectance, names)):
                statistics.add(index, values)
                writer.write(index, window, values)
        if source.sensor:
            for index in range(len(names)):
                writer.set_band_metadata(index, {"SENSOR": source.sensor})
    return statistics, counter


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
    holding every band). Returns a SpectralIndicesRun.
    """
    names = normalise_factors(factors)
    classes = qa_masks.normalise_classes(mask)
    warn = WarningLog(monitor)
    source, checked_scale = open_source(input_path, bands_needed(names), bands, scale, qa_path,
                                        qa_layout, use_qa=bool(classes), monitor=monitor,
                                        s2_resolution=s2_resolution)
    try:
        if classes:
            _log_masking(source, classes, monitor)
        statistics, counter = _write_factors(source, names, output_path, classes, checked_scale,
                                             accept_scale, warn, monitor, block_size)
    finally:
        source.close()
    has_qa = bool(classes) and source.has_qa
    share = counter.share if has_qa else 0.0
    if has_qa:
        monitor.info(f"Masked share: {100 * share:.1f} % of the {counter.with_data} pixels with "
                     f"data set to nodata ({', '.join(classes)}).")
    return SpectralIndicesRun(str(output_path), names, source.sensor, share, list(warn),
                              statistics.rows())
