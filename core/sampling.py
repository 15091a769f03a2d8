"""Factor values at sample points: points are brought into each raster's CRS and read at the
pixel that holds them (or bilinear, or the 3 x 3 mean, since a field sample is a 30 m composite)."""

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import pandas as pd

from . import raster_io
from .blocks import Window
from .errors import SoilMetalError
from .guards import MIN_STATISTIC_SAMPLES, check_unique_names

SAMPLING_METHODS = ("nearest", "bilinear", "mean3x3")
SAMPLING_LABELS = ("Pixel that holds the point", "Bilinear interpolation",
                   "Mean of the 3 x 3 window around the point")


@dataclass
class PointSet:
    """Sample points: ids, coordinates in crs_wkt, and the measured values of one field."""

    ids: list
    x: np.ndarray
    y: np.ndarray
    values: np.ndarray
    crs_wkt: str
    field: str = "value"

    def __post_init__(self):
        self.ids = [str(i) for i in self.ids]
        self.x = np.asarray(self.x, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        self.values = np.asarray(self.values, dtype=np.float64)

    def __len__(self):
        return len(self.ids)


@dataclass
class FactorSource:
    """A factor raster: its path and the layer name used for bands without a description."""

    path: str
    layer_name: str = None


@dataclass
class FactorBand:
    """Where one named factor lives: raster path, band number and the raster's description."""

    name: str
    path: str
    band: int
    info: object


@dataclass
class SampleTable:
    """Samples with valid factor values: factors (n x k, indexed by sample id), values (n,),
    the points' coordinates, and every dropped sample with its reason."""

    factors: pd.DataFrame
    values: np.ndarray
    ids: list
    x: np.ndarray
    y: np.ndarray
    dropped: list = field(default_factory=list)

    def __len__(self):
        return len(self.ids)

    def subset(self, mask):
        """The samples where mask is True."""
        mask = np.asarray(mask, dtype=bool)
        ids = [i for i, keep in zip(self.ids, mask) if keep]
        return SampleTable(self.factors.loc[mask].copy(), self.values[mask], ids, self.x[mask],
                           self.y[mask], list(self.dropped))


def catalogue_factors(sources):
    """Every band of the given rasters as a FactorBand, keyed by factor name; a duplicate name is an error."""
    catalogue = {}
    for source in sources:
        info = raster_io.raster_info(source.path, source.layer_name)
        for band, name in enumerate(info.band_names, start=1):
            if name in catalogue:
                raise SoilMetalError(
                    f"Factor name '{name}' is found twice: band {catalogue[name].band} of "
                    f"'{catalogue[name].path}' and band {band} of '{source.path}'. Give each factor "
                    "raster only once, or rename one of the bands (band description).")
            catalogue[name] = FactorBand(name, source.path, band, info)
    return catalogue


def check_factors_found(names, available, parameter=""):
    """SoilMetalError for a name given twice or not among the available factor names (band
    descriptions); parameter prefixes the message (e.g. "ALWAYS_INCLUDE")."""
    check_unique_names(names, parameter or "FACTOR_NAMES")
    missing = [n for n in names if n not in available]
    if missing:
        subject = f"{parameter}: factor(s)" if parameter else "Factor(s)"
        raise SoilMetalError(
            f"{subject} {', '.join(missing)} not found in the factor rasters. Available factors: "
            f"{', '.join(available) or 'none'}. Names are band descriptions and are case-sensitive: "
            "correct them, or add the raster that holds them (e.g. the output of 'Spectral "
            "indices' or 'Terrain factors').")


def resolve_factors(catalogue, names=None):
    """The FactorBands for the requested names (all when None), in the requested order."""
    if not names:
        return list(catalogue.values())
    check_factors_found(names, list(catalogue))
    return [catalogue[n] for n in names]


def parse_factor_names(text):
    """Comma/space separated factor names -> list (empty string -> empty list)."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        return [str(t).strip() for t in text if str(t).strip()]
    return [part.strip() for part in str(text).replace(";", ",").split(",") if part.strip()]


def _pixel_coordinates(info, x, y):
    """Fractional column/row of map coordinates in a raster's grid (inverse geotransform)."""
    gt = info.geotransform
    det = gt[1] * gt[5] - gt[2] * gt[4]
    dx = x - gt[0]
    dy = y - gt[3]
    col = (gt[5] * dx - gt[2] * dy) / det
    row = (-gt[4] * dx + gt[1] * dy) / det
    return col, row


def _read_point(reader, bands, info, col, row, method):
    """Values of the given bands at one fractional pixel position, NaN where nodata."""
    width, height = info.width, info.height
    if method == "bilinear":
        # Interpolate between the four surrounding pixel centres (clamped at the raster edge).
        cx, cy = col - 0.5, row - 0.5
        x0 = int(np.clip(np.floor(cx), 0, max(width - 2, 0)))
        y0 = int(np.clip(np.floor(cy), 0, max(height - 2, 0)))
        block = reader.read(bands, Window(x0, y0, min(2, width - x0), min(2, height - y0)))
        fx = float(np.clip(cx - x0, 0.0, 1.0)) if block.shape[2] == 2 else 0.0
        fy = float(np.clip(cy - y0, 0.0, 1.0)) if block.shape[1] == 2 else 0.0
        wx = np.array([1 - fx, fx])[: block.shape[2]]
        wy = np.array([1 - fy, fy])[: block.shape[1]]
        weights = np.outer(wy, wx)
        return np.einsum("byx,yx->b", block, weights)
    icol, irow = int(np.floor(col)), int(np.floor(row))
    if method == "mean3x3":
        window = Window(icol, irow, 1, 1).expanded(1, width, height)
        block = reader.read(bands, window)
        centre = block[:, irow - window.yoff, icol - window.xoff]
        with np.errstate(invalid="ignore"):
            means = np.nanmean(block.reshape(len(bands), -1), axis=1) if np.any(np.isfinite(block)) \
                else np.full(len(bands), np.nan)
        # The sample's own pixel must be valid: a composite centred on nodata is not a sample.
        means[~np.isfinite(centre)] = np.nan
        return means
    return reader.read(bands, Window(icol, irow, 1, 1))[:, 0, 0]


def sample_factors(points, sources, factor_names=None, method="nearest", min_samples=MIN_STATISTIC_SAMPLES):
    """Read the named factors (all when None) at the points -> SampleTable of the valid samples.

    Points outside a raster, on nodata, or without a measured value are dropped with a reason;
    fewer than min_samples valid samples is a SoilMetalError that says how many there are.
    """
    if method not in SAMPLING_METHODS:
        raise SoilMetalError(f"Unknown sampling method '{method}'; use one of {', '.join(SAMPLING_METHODS)}.")
    if len(points) == 0:
        raise SoilMetalError("The point layer has no points. Choose the layer with the soil samples.")
    catalogue = catalogue_factors(sources)
    wanted = resolve_factors(catalogue, factor_names)
    n = len(points)
    reasons = [None] * n
    for i in np.flatnonzero(~np.isfinite(points.values)):
        reasons[i] = f"no value in field '{points.field}'"
    matrix = np.full((n, len(wanted)), np.nan)
    by_path = {}
    for column, factor in enumerate(wanted):
        by_path.setdefault(factor.path, []).append((column, factor))
    inside_any = np.zeros(n, dtype=bool)
    for path, members in by_path.items():
        info = members[0][1].info
        x, y = raster_io.transform_xy(points.x, points.y, points.crs_wkt, info.crs_wkt)
        col, row = _pixel_coordinates(info, x, y)
        inside = np.isfinite(col) & (col >= 0) & (col < info.width) & (row >= 0) & (row < info.height)
        inside_any |= inside
        bands = [factor.band for _, factor in members]
        columns = [c for c, _ in members]
        with raster_io.RasterReader(path) as reader:
            for i in np.flatnonzero(inside):
                matrix[i, columns] = _read_point(reader, bands, info, col[i], row[i], method)
        for i in np.flatnonzero(~inside):
            if reasons[i] is None:
                reasons[i] = f"outside raster '{raster_io.layer_stem(path)}'"
    if not inside_any.any():
        first = wanted[0].info
        raise SoilMetalError(
            f"None of the {n} points lies inside the factor rasters (e.g. '{first.path}', extent "
            f"{raster_io.describe_window_extent(first)}). Check that the point layer's CRS is set "
            "correctly and that points and rasters cover the same area.")
    names = [factor.name for factor in wanted]
    for i in range(n):
        if reasons[i] is None and not np.all(np.isfinite(matrix[i])):
            missing = [names[j] for j in np.flatnonzero(~np.isfinite(matrix[i]))]
            reasons[i] = f"nodata in factor(s) {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")
    keep = np.array([r is None for r in reasons])
    dropped = [(points.ids[i], reasons[i]) for i in range(n) if reasons[i] is not None]
    if keep.sum() < min_samples:
        examples = "; ".join(f"{sid}: {why}" for sid, why in dropped[:5])
        raise SoilMetalError(
            f"Only {int(keep.sum())} of {n} samples have a measured value and valid values of every "
            f"factor; at least {min_samples} {'is' if min_samples == 1 else 'are'} needed. Dropped: {examples}"
            f"{' ...' if len(dropped) > 5 else ''}. Check the points' CRS, the factor rasters' "
            "extent and nodata, and the field.")
    ids = [points.ids[i] for i in np.flatnonzero(keep)]
    factors = pd.DataFrame(matrix[keep], columns=names, index=pd.Index(ids, name="sample_id"))
    return SampleTable(factors=factors, values=points.values[keep], ids=ids, x=points.x[keep],
                       y=points.y[keep], dropped=dropped)


@dataclass
class PreparedSamples:
    """Valid samples after outlier removal, with what was dropped and removed, for reports."""

    table: SampleTable
    removed_outliers: list
    outlier_method: str
    outlier_note: str = ""

    def summary_rows(self):
        """One row per sample that did not reach the model: id, value, what happened."""
        rows = [{"sample_id": sid, "value": None, "status": "dropped", "reason": why}
                for sid, why in self.table.dropped]
        rows += [{"sample_id": sid, "value": value, "status": "outlier removed", "reason": why}
                 for sid, value, why in self.removed_outliers]
        return rows


def prepare_samples(points, sources, factor_names=None, method="nearest", outliers="none",
                    outlier_threshold=None, min_samples=MIN_STATISTIC_SAMPLES, monitor=None):
    """Sample the factors at the points, then remove abnormal metal values (none/iqr/zscore)."""
    from .science.outliers import find_outliers
    table = sample_factors(points, sources, factor_names, method, min_samples=min_samples)
    result = find_outliers(table.values, outliers, outlier_threshold)
    removed = [(table.ids[i], value, reason) for i, value, reason in result.outliers]
    kept = table.subset(~result.mask)
    if monitor is not None:
        for sid, why in table.dropped:
            monitor.warning(f"Sample {sid} dropped: {why}.")
        for sid, value, why in removed:
            monitor.info(f"Sample {sid} ({value:g}) removed as an outlier: {why}.")
        if result.note:
            monitor.info(result.note)
    if len(kept) < min_samples:
        raise SoilMetalError(
            f"Only {len(kept)} valid samples remain ({len(table.dropped)} dropped for missing values, "
            f"position or nodata; {len(removed)} removed as outliers); at least {min_samples} are "
            "needed. Add samples, choose OUTLIERS = none, or check the points and rasters.")
    return PreparedSamples(kept, removed, result.method, result.note)


@dataclass
class SampleInputs:
    """The soil samples a modelling step reads, read once from its parameters: the points (with
    their measured field), the factor rasters, how a factor is read at a point, and the outlier
    rule with its threshold (None: the rule's default)."""

    points: PointSet
    sources: List[FactorSource]
    sampling: str = "nearest"
    outliers: str = "none"
    outlier_threshold: Optional[float] = None

    @property
    def field(self):
        """The measured field's name."""
        return self.points.field

    @property
    def raster_paths(self):
        """The factor rasters' paths, in the order given."""
        return [source.path for source in self.sources]

    def prepare(self, factor_names=None, min_samples=MIN_STATISTIC_SAMPLES, monitor=None):
        """The named factors (all when None) at the points, outliers removed -> PreparedSamples."""
        return prepare_samples(self.points, self.sources, factor_names, self.sampling,
                               self.outliers, self.outlier_threshold, min_samples, monitor)

    def context(self):
        """What a modelling run records about these samples -> SamplesContext."""
        return SamplesContext(field=self.points.field, n_points=len(self.points),
                              sampling=self.sampling, outlier_threshold=self.outlier_threshold,
                              crs_wkt=self.points.crs_wkt)


@dataclass(frozen=True)
class SamplesContext:
    """What a modelling run records about its samples, made once by SampleInputs.context():
    the measured field, the points in the layer (None: not known), how a factor was read at a
    point, the outlier threshold asked for (None: the rule's default; the rule applied is the
    PreparedSamples' outlier_method) and the points' CRS as WKT."""

    field: str = ""
    n_points: Optional[int] = None
    sampling: str = "nearest"
    outlier_threshold: Optional[float] = None
    crs_wkt: str = ""
