"""Semivariograms: the empirical variogram with gstat's default bins and a fitted model.

Conventions follow gstat (r-spatial/gstat), so a user can check our numbers against R:

- Bins. Cutoff = one third of the diagonal of the samples' bounding box, 15 bins of equal
  width cutoff / 15. A pair at distance h > 0 falls in bin ceil(h / width) - 1, so each bin is
  (lower, upper] with its upper boundary included; a pair at distance 0 (duplicate locations)
  counts in the first bin; pairs beyond the cutoff are left out. Each bin reports its pair
  count `np`, the mean distance of its pairs `dist` and the semivariance
  gamma = sum((z_i - z_j)^2) / (2 np). Bins without pairs are dropped, as gstat does.
- Models (gstat's `vgm`): a nugget plus one structure of partial sill `psill` and range
  parameter `range` (a): spherical 1.5 h/a - 0.5 (h/a)^3 up to a, then 1; exponential
  1 - exp(-h/a); gaussian 1 - exp(-(h/a)^2). The exponential and gaussian models reach 95 % of
  the sill at 3a and sqrt(3)a: `practical_range` gives that distance.
- Fit (gstat's `fit.variogram` default, fit.method 7): weighted least squares on the bins,
  weights np / dist^2. gstat starts from range = max(dist) / 3 and iterates Gauss-Newton;
  here, for each range the sills are the non-negative weighted least-squares solution, and
  the range minimises the weighted sum of squares (a bounded 1-D search), which gives the
  same optimum without depending on a start. Any of nugget, psill, range can be fixed.

Distances are in the coordinates' units (metres for the projected CRS the caller gives).
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar, nnls

from ..errors import SoilMetalError
from ..guards import MIN_STATISTIC_SAMPLES

MODELS = ("spherical", "exponential", "gaussian")
GSTAT_NAMES = {"spherical": "Sph", "exponential": "Exp", "gaussian": "Gau"}
PRACTICAL_RANGE_FACTOR = {"spherical": 1.0, "exponential": 3.0, "gaussian": math.sqrt(3.0)}
DEFAULT_BINS = 15
DEFAULT_CUTOFF_FRACTION = 1.0 / 3.0
# Nugget-to-sill ratio at or above which a model is called pure nugget.
PURE_NUGGET_RATIO = 0.95
# Significance level of the permutation test for spatial structure (structure_p_value).
STRUCTURE_ALPHA = 0.05
# A fitted model has three parameters (nugget, partial sill, range): fewer distance classes
# than that cannot fix a range.
MIN_FIT_CLASSES = 3
_PAIR_CHUNK = 2_000_000      # distances computed per chunk: bounds memory for many samples


@dataclass(frozen=True)
class EmpiricalVariogram:
    """Bins of an empirical semivariogram: np (k,) pair counts, dist (k,) mean pair distance,
    gamma (k,) semivariance, of the bins with pairs; cutoff and width of the binning."""

    np: np.ndarray
    dist: np.ndarray
    gamma: np.ndarray
    cutoff: float
    width: float

    def to_dict(self):
        """Plain dict (JSON as is)."""
        return {"np": [int(v) for v in self.np], "dist": [float(v) for v in self.dist],
                "gamma": [float(v) for v in self.gamma], "cutoff": float(self.cutoff),
                "width": float(self.width)}


@dataclass(frozen=True)
class VariogramModel:
    """nugget + psill * unit(h / range) for model in MODELS (gstat's parameterisation)."""

    model: str
    nugget: float
    psill: float
    range: float

    def __post_init__(self):
        if self.model not in MODELS:
            raise SoilMetalError(f"Unknown variogram model '{self.model}': use one of "
                                 f"{', '.join(MODELS)}.")
        values = (self.nugget, self.psill, self.range)
        if not all(math.isfinite(v) for v in values) or min(values) < 0 or self.range <= 0:
            raise SoilMetalError(
                f"Variogram nugget {self.nugget}, partial sill {self.psill} and range "
                f"{self.range} must be finite, not negative, and the range above 0: "
                "give other values or let them be fitted.")
        if self.nugget + self.psill <= 0:
            raise SoilMetalError("The variogram's sill (nugget + partial sill) is 0: the "
                                 "residuals do not vary, so there is nothing to krige.")

    @property
    def sill(self):
        """nugget + partial sill: the semivariance far away (and the variance of the field)."""
        return self.nugget + self.psill

    @property
    def nugget_ratio(self):
        """nugget / sill, 0 (all spatial) .. 1 (pure nugget, no spatial structure)."""
        return self.nugget / self.sill

    @property
    def practical_range(self):
        """Distance at which the structure reaches (about 95 % of) its partial sill."""
        return self.range * PRACTICAL_RANGE_FACTOR[self.model]

    @property
    def pure_nugget(self):
        """True when the structured part is negligible: kriging would add nothing."""
        return self.nugget_ratio >= PURE_NUGGET_RATIO

    def unit(self, h):
        """The structure's unit semivariance (0 at 0, 1 far away) at distances h (any shape)."""
        s = np.asarray(h, dtype=float) / self.range
        if self.model == "spherical":
            s = np.minimum(s, 1.0)
            return s * (1.5 - 0.5 * s * s)
        if self.model == "exponential":
            return -np.expm1(-s)
        return -np.expm1(-s * s)

    def semivariance(self, h):
        """gamma(h): 0 at h == 0, nugget + psill * unit(h) for h > 0."""
        h = np.asarray(h, dtype=float)
        return np.where(h > 0, self.nugget + self.psill * self.unit(h), 0.0)

    def covariance(self, h):
        """C(h) = sill - gamma(h): the sill at h == 0, psill * (1 - unit(h)) for h > 0."""
        return self.sill - self.semivariance(h)

    def scaled(self, sill):
        """The same shape with its sill rescaled to `sill` (nugget ratio and range kept)."""
        factor = float(sill) / self.sill
        return VariogramModel(self.model, self.nugget * factor, self.psill * factor, self.range)

    def summary(self, unit="m"):
        """The fitted model's parameters as a phrase, for reports."""
        head = (f"{self.model} variogram: nugget {self.nugget:.4g}, partial sill {self.psill:.4g}, "
                f"range {self.range:.0f} {unit}")
        if self.model != "spherical":
            head += f" (practical range {self.practical_range:.0f} {unit})"
        return head

    def describe(self, unit="m"):
        """One sentence on the spatial structure, for reports."""
        ratio = self.nugget_ratio
        head = self.summary(unit)
        if self.pure_nugget:
            return (head + f"; nugget-to-sill ratio {ratio:.2f}: no spatial structure, "
                    "kriging adds nothing.")
        strength = "strong" if ratio < 0.25 else "moderate" if ratio < 0.75 else "weak"
        return (head + f"; nugget-to-sill ratio {ratio:.2f}: {strength} spatial structure, "
                f"correlated up to about {self.practical_range:.0f} {unit}.")

    def to_dict(self):
        """Plain dict (JSON as is), the form the model file stores."""
        return {"model": self.model, "nugget": float(self.nugget), "psill": float(self.psill),
                "range": float(self.range)}

    @classmethod
    def from_dict(cls, data):
        """A model from to_dict()'s form, validated; SoilMetalError when it is not one."""
        try:
            return cls(str(data["model"]), float(data["nugget"]), float(data["psill"]),
                       float(data["range"]))
        except (KeyError, TypeError, ValueError) as error:
            raise SoilMetalError(f"The stored variogram {data!r} is not valid ({error}): "
                                 "retrain the model to fit it again.") from None


def bounding_box_diagonal(x, y):
    """Diagonal of the bounding box of points x, y (n,)."""
    return float(math.hypot(np.ptp(x), np.ptp(y)))


def empirical_variogram(x, y, values, cutoff=None, width=None, n_bins=DEFAULT_BINS):
    """EmpiricalVariogram of values (n,) at x, y (n,) with gstat's binning (module docstring).

    cutoff defaults to a third of the bounding-box diagonal, width to cutoff / n_bins.
    """
    x, y, values = (np.asarray(a, dtype=float).ravel() for a in (x, y, values))
    if not (x.size == y.size == values.size):
        raise ValueError("x, y and values must have the same length")
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(values)
    x, y, values = x[keep], y[keep], values[keep]
    if x.size < MIN_STATISTIC_SAMPLES:
        raise SoilMetalError(f"A variogram needs at least {MIN_STATISTIC_SAMPLES} samples with "
                             f"coordinates and a value; {x.size} given: add samples.")
    if cutoff is None:
        cutoff = bounding_box_diagonal(x, y) * DEFAULT_CUTOFF_FRACTION
    if cutoff <= 0:
        raise SoilMetalError("All samples share one location, so distances are all 0 and no "
                             "variogram can be computed: the samples need distinct coordinates.")
    width = float(cutoff) / n_bins if width is None else float(width)
    size = int(math.floor(cutoff / width)) + 1
    counts = np.zeros(size, dtype=np.int64)
    dist_sum = np.zeros(size)
    sq_sum = np.zeros(size)
    n = x.size
    rows_per_chunk = max(1, _PAIR_CHUNK // n)
    for start in range(0, n - 1, rows_per_chunk):
        i, j = _pairs_from(start, rows_per_chunk, n)
        h = np.hypot(x[i] - x[j], y[i] - y[j])
        inside = h <= cutoff
        h, diff = h[inside], (values[i] - values[j])[inside]
        index = _bin_index(h, width)
        counts += np.bincount(index, minlength=size)
        dist_sum += np.bincount(index, weights=h, minlength=size)
        sq_sum += np.bincount(index, weights=diff * diff, minlength=size)
    used = counts > 0
    return EmpiricalVariogram(counts[used], dist_sum[used] / counts[used],
                              sq_sum[used] / (2.0 * counts[used]), float(cutoff), width)


def _bin_index(h, width):
    """gstat's bin of each pair distance h: ceil(h / width) - 1, and bin 0 for h == 0."""
    frac = h / width
    index = np.floor(frac).astype(np.int64)
    index[(h > 0) & (frac == index)] -= 1
    return index


def _pairs_from(start, rows, n):
    """Index pairs (i, j), i < j, for rows i in [start, start + rows)."""
    i_rows = np.arange(start, min(start + rows, n - 1))
    lengths = n - 1 - i_rows
    i = np.repeat(i_rows, lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return i, i + 1 + offsets


def _sills_for_range(model, range_, ev, weights, nugget, psill):
    """(nugget, psill, weighted SSE) for a fixed range: non-negative WLS in the free sills."""
    unit = VariogramModel(model, 0.0, 1.0, range_).unit(ev.dist)
    target = ev.gamma.copy()
    columns = []
    if nugget is None:
        columns.append(np.ones_like(unit))
    else:
        target -= nugget
    if psill is None:
        columns.append(unit)
    else:
        target -= psill * unit
    root = np.sqrt(weights)
    if columns:
        design = np.column_stack(columns) * root[:, None]
        solution, _ = nnls(design, target * root)
        solution = list(solution)
    else:
        solution = []
    fitted_nugget = solution.pop(0) if nugget is None else nugget
    fitted_psill = solution.pop(0) if psill is None else psill
    residual = ev.gamma - fitted_nugget - fitted_psill * unit
    return fitted_nugget, fitted_psill, float(np.sum(weights * residual * residual))


@dataclass(frozen=True)
class VariogramFit:
    """A fitted model, its weighted sum of squared errors and a warning ('' when none)."""

    model: VariogramModel
    sse: float
    warning: str = ""


def fit_variogram(ev, model="spherical", nugget=None, psill=None, range_=None):
    """Fit `model` to EmpiricalVariogram ev by WLS with weights np / dist^2 -> VariogramFit.

    nugget, psill, range_ given (not None) are held fixed. The range is searched between a
    hundredth of the shortest bin distance and 10 times the longest; a fit that ends at that
    bound says so in its warning.
    """
    if model not in MODELS:
        raise SoilMetalError(f"Unknown variogram model '{model}': use one of {', '.join(MODELS)}.")
    if ev.dist.size < MIN_FIT_CLASSES and range_ is None:
        raise SoilMetalError(
            f"The variogram could not be fitted: only {ev.dist.size} distance classes have "
            f"sample pairs (at least {MIN_FIT_CLASSES} are needed to fit a range). Add samples, or "
            "give the variogram's range (and sills) yourself.")
    if np.any(ev.dist <= 0):
        raise SoilMetalError("The variogram could not be fitted: a distance class has only "
                             "pairs at distance 0 (duplicate locations). Merge duplicate samples.")
    if not np.any(ev.gamma > 0):
        raise SoilMetalError("The variogram could not be fitted: every semivariance is 0, the "
                             "values do not vary between samples. There is nothing to krige.")
    weights = ev.np / ev.dist ** 2
    if range_ is not None:
        fitted_nugget, fitted_psill, sse = _sills_for_range(model, float(range_), ev, weights,
                                                            nugget, psill)
        return VariogramFit(VariogramModel(model, fitted_nugget, fitted_psill, float(range_)), sse)
    lower, upper = ev.dist.min() / 100.0, ev.dist.max() * 10.0

    def sse_at(log_range):
        return _sills_for_range(model, math.exp(log_range), ev, weights, nugget, psill)[2]

    # A coarse grid first (the SSE in the range can have several minima), then refine.
    grid = np.linspace(math.log(lower), math.log(upper), 121)
    values = np.array([sse_at(g) for g in grid])
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    result = minimize_scalar(sse_at, bounds=(low, high), method="bounded",
                             options={"xatol": 1e-8})
    log_range = float(result.x) if result.fun <= values[best] else float(grid[best])
    fitted_range = math.exp(log_range)
    fitted_nugget, fitted_psill, sse = _sills_for_range(model, fitted_range, ev, weights,
                                                        nugget, psill)
    warning = ""
    if fitted_psill <= 0 or best == 0:
        warning = ("the fitted variogram has no spatial structure (partial sill 0 or a range "
                   "below the shortest sample distance): treated as pure nugget.")
        fitted_psill = 0.0 if fitted_psill <= 0 else fitted_psill
        if fitted_psill == 0.0:
            fitted_nugget = float(np.average(ev.gamma, weights=ev.np)) if nugget is None else nugget
    elif best == grid.size - 1:
        warning = (f"the fitted range ({fitted_range:.0f}) sits at the search bound, 10 times the "
                   "longest lag: the variogram does not level off within the cutoff, so the "
                   "range is uncertain.")
    return VariogramFit(VariogramModel(model, float(fitted_nugget), float(fitted_psill),
                                       fitted_range), sse, warning)


def _free_sills_sse(unit, gamma, weights):
    """Weighted SSE (r,) of the best non-negative nugget + psill * unit[r] for each row r.

    unit (r, b): the unit structure at the b bin distances for r candidate ranges. The
    non-negative optimum is the unconstrained one when feasible, else on a face (nugget 0
    or psill 0): all three are computed in closed form, vectorised over r.
    """
    sw, sg = weights.sum(), (weights * gamma).sum()
    su = unit @ weights
    suu = (unit * unit) @ weights
    sug = unit @ (weights * gamma)
    sgg = (weights * gamma * gamma).sum()
    det = sw * suu - su * su

    def sse(a, b):
        return sgg - 2 * a * sg - 2 * b * sug + a * a * sw + 2 * a * b * su + b * b * suu

    with np.errstate(divide="ignore", invalid="ignore"):
        a_free = (suu * sg - su * sug) / det
        b_free = (sw * sug - su * sg) / det
        b_face = np.maximum(np.where(suu > 0, sug / suu, 0.0), 0.0)
    a_face = max(sg / sw, 0.0)
    best = np.minimum(sse(0.0, b_face), sse(a_face, 0.0))
    feasible = (a_free >= 0) & (b_free >= 0) & np.isfinite(a_free) & np.isfinite(b_free)
    free = sse(np.where(feasible, a_free, 0.0), np.where(feasible, b_free, 0.0))
    return np.where(feasible, np.minimum(best, free), best)


def structure_p_value(x, y, values, model="spherical", rng=None, permutations=99):
    """Permutation p-value of spatial structure in values (n,) at x, y.

    Statistic: how much better `model` (nugget + structure, fitted as fit_variogram does on
    gstat's bins) fits the empirical variogram than a pure nugget does, as a fraction of the
    pure nugget's weighted SSE. Under no spatial structure the values are exchangeable, so
    the statistic of the observed values is compared with that of `permutations` random
    permutations of them: p = (1 + number at least as large) / (1 + permutations).
    rng: a numpy Generator (default seeded, so the same input gives the same p).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x, y, values = (np.asarray(a, dtype=float).ravel() for a in (x, y, values))
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(values)
    x, y, values = x[keep], y[keep], values[keep]
    cutoff = bounding_box_diagonal(x, y) * DEFAULT_CUTOFF_FRACTION
    if x.size < 4 or cutoff <= 0:
        return 1.0
    width = cutoff / DEFAULT_BINS
    i, j = _pairs_from(0, x.size, x.size)
    h = np.hypot(x[i] - x[j], y[i] - y[j])
    inside = h <= cutoff
    i, j, h = i[inside], j[inside], h[inside]
    index = _bin_index(h, width)
    size = DEFAULT_BINS + 1
    counts = np.bincount(index, minlength=size)
    used = counts > 0
    dist = (np.bincount(index, weights=h, minlength=size)[used] / counts[used])
    if used.sum() < MIN_FIT_CLASSES or np.any(dist <= 0):
        return 1.0
    weights = counts[used] / dist ** 2
    ranges = np.exp(np.linspace(math.log(dist.min() / 100), math.log(dist.max() * 10), 61))
    unit = VariogramModel(model, 0.0, 1.0, 1.0).unit(dist[None, :] / ranges[:, None])

    def statistic(v):
        diff = v[i] - v[j]
        gamma = np.bincount(index, weights=diff * diff, minlength=size)[used] / (2 * counts[used])
        nugget_sse = float(np.sum(weights * (gamma - np.average(gamma, weights=weights)) ** 2))
        if nugget_sse <= 0:
            return 0.0
        return nugget_sse - float(_free_sills_sse(unit, gamma, weights).min())

    observed = statistic(values)
    exceed = sum(statistic(rng.permutation(values)) >= observed for _ in range(permutations))
    return (1.0 + exceed) / (1.0 + permutations)


def fit_residual_variogram(x, y, values, model="spherical", nugget=None, psill=None, range_=None):
    """(EmpiricalVariogram, VariogramFit) of values at x, y with gstat's defaults."""
    ev = empirical_variogram(x, y, values)
    return ev, fit_variogram(ev, model, nugget, psill, range_)
