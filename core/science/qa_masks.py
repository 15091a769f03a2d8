"""Cloud, shadow, cirrus, snow, water and fill masks from a product's quality band.

Four layouts are understood (the bit and class definitions of the product guides):
- "landsat_c2": Landsat 8/9 Collection 2 QA_PIXEL: bit 0 fill, 1 dilated cloud, 2 cirrus,
  3 cloud, 4 cloud shadow, 5 snow, 7 water (clouds = cloud or dilated cloud).
- "landsat_c1": Landsat 8 Collection 1 BQA: bit 0 fill, 4 cloud, bits 7-8 cloud shadow
  confidence, 9-10 snow/ice, 11-12 cirrus (a confidence counts when it is high, 11). It has no
  water bit.
- "landsat_pre": Landsat 8 pre-collection BQA (an MTL without COLLECTION_NUMBER): bit 0 fill,
  bits 4-5 water, 10-11 snow/ice, 12-13 cirrus, 14-15 cloud confidence (high = 11). It has no
  cloud shadow bits.
- "sentinel2_scl": Sentinel-2 L2A scene classification: 0 no data and 1 saturated or defective
  (fill), 3 cloud shadow, 6 water, 8 and 9 cloud (medium, high probability), 10 thin cirrus,
  11 snow.
"""

import numpy as np

from ..errors import SoilMetalError
from .choices import ordered_choices

MASK_CLASSES = ("clouds", "shadows", "cirrus", "snow", "water", "fill")
DEFAULT_MASK = ("clouds", "shadows", "cirrus", "fill")
LAYOUTS = ("landsat_c2", "landsat_c1", "landsat_pre", "sentinel2_scl")
LAYOUT_LABELS = {
    "landsat_c2": "Landsat Collection 2 QA_PIXEL",
    "landsat_c1": "Landsat 8 Collection 1 BQA",
    "landsat_pre": "Landsat 8 pre-collection BQA",
    "sentinel2_scl": "Sentinel-2 L2A scene classification (SCL)",
}
# Classes a layout cannot tell (they are never masked, and the log says so).
MISSING_CLASSES = {"landsat_c1": ("water",), "landsat_pre": ("shadows",)}


def _bit(qa, number):
    """True where bit `number` of the integer array is set."""
    return (qa >> number) & 1 == 1


def _high(qa, first_bit):
    """True where the two-bit confidence starting at `first_bit` is high (binary 11)."""
    return (qa >> first_bit) & 3 == 3


def class_masks(qa, layout):
    """{class: bool array} for every MASK_CLASSES entry of a QA block (any shape, NaN = no QA value).

    A NaN QA value (the QA file's own nodata) counts as fill.
    """
    if layout not in LAYOUTS:
        raise SoilMetalError(f"Unknown QA layout '{layout}'. Choose one of {', '.join(LAYOUTS)}.")
    qa = np.asarray(qa, dtype=np.float64)
    missing = ~np.isfinite(qa)
    codes = np.where(missing, 0, qa).astype(np.int64)
    none = np.zeros(codes.shape, dtype=bool)
    if layout == "landsat_c2":
        masks = {"fill": _bit(codes, 0), "clouds": _bit(codes, 1) | _bit(codes, 3),
                 "cirrus": _bit(codes, 2), "shadows": _bit(codes, 4), "snow": _bit(codes, 5),
                 "water": _bit(codes, 7)}
    elif layout == "landsat_c1":
        masks = {"fill": _bit(codes, 0), "clouds": _bit(codes, 4), "shadows": _high(codes, 7),
                 "snow": _high(codes, 9), "cirrus": _high(codes, 11), "water": none}
    elif layout == "landsat_pre":
        masks = {"fill": _bit(codes, 0), "water": _high(codes, 4), "snow": _high(codes, 10),
                 "cirrus": _high(codes, 12), "clouds": _high(codes, 14), "shadows": none}
    else:
        masks = {"fill": (codes == 0) | (codes == 1), "shadows": codes == 3, "water": codes == 6,
                 "clouds": (codes == 8) | (codes == 9), "cirrus": codes == 10,
                 "snow": codes == 11}
    masks["fill"] = masks["fill"] | missing
    return masks


def normalise_classes(classes):
    """Validated mask class names (None = DEFAULT_MASK), in MASK_CLASSES order."""
    if classes is None:
        return list(DEFAULT_MASK)
    return ordered_choices(classes, MASK_CLASSES, "mask class(es)", fold=str.lower)


def qa_mask(qa, layout, classes=None):
    """(masked, fill): bool arrays of the QA block's shape; masked = any chosen class (fill included
    when chosen), fill = the QA's own fill, for the masked share."""
    masks = class_masks(qa, layout)
    masked = np.zeros(np.shape(qa), dtype=bool)
    for name in normalise_classes(classes):
        masked |= masks[name]
    return masked, masks["fill"]


class MaskCounter:
    """Counts, over blocks, the pixels with data (not QA fill) and those the mask removed."""

    def __init__(self):
        self.with_data = 0
        self.masked = 0

    def add(self, masked, fill):
        """Add one block's masks (bool arrays of one shape)."""
        data = ~fill
        self.with_data += int(data.sum())
        self.masked += int((masked & data).sum())

    @property
    def share(self):
        """Masked share of the pixels with data (0-1); 0 when no pixel had data."""
        return self.masked / self.with_data if self.with_data else 0.0


def check_qa_grid(qa_info, image_info, qa_path):
    """Refuse a QA band whose size differs from the image's (it cannot mask pixel by pixel)."""
    if (qa_info.width, qa_info.height) != (image_info.width, image_info.height):
        raise SoilMetalError(
            f"The QA band '{qa_path}' is {qa_info.width} x {qa_info.height} pixels, but the image "
            f"is {image_info.width} x {image_info.height}. Give the quality band of the same "
            "product and resolution (QA_PIXEL / BQA of the Landsat product, SCL of the same "
            "Sentinel-2 resolution), or warp it to the image grid with nearest-neighbour first.")
