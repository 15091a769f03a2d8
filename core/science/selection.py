"""Optimal factor selection (paper section 3.1.3): Pearson correlation with the metal, then
iterative variance-inflation-factor (VIF) screening.

Order of the screening, each step giving every excluded factor its reason:

1. samples with a missing metal value are dropped; a factor with no value at any sample is
   excluded; then samples missing any other factor are dropped (listwise, so r, VIF and the
   regressions all use the same samples);
2. a factor constant at the samples, or an exact copy of an earlier factor, is excluded;
3. Pearson r and its two-sided p-value (t-test, n - 2 degrees of freedom) for each factor;
   a factor with |r| < ``min_abs_r`` is dropped unless it is in ``always_include``;
4. among the remaining factors, while a factor that is not always-included has
   VIF > ``max_vif``, the one with the highest VIF is dropped (ties: the lower |r| goes)
   and the VIFs are recomputed. Always-included factors stay in, as the paper kept aspect
   and altitude despite their low r.

VIF_j = 1 / (1 - R^2_j), R^2_j from the least-squares regression (with intercept) of factor
j on the other screened factors; an exact linear dependence gives VIF = inf.

The MLR table gives the in-sample fit of an OLS regression of the metal on the selected set
and on the set the screening picks without ``always_include``, the paper's argument for
adding terrain factors. R^2 can only grow when factors are added, so the table also gives
adjusted R^2 and the leave-one-out RMSE, the honest comparison.
"""

import math
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import SoilMetalError
from ..guards import MIN_STATISTIC_SAMPLES

TABLE_COLUMNS = ["factor", "r", "p_value", "vif", "selected", "reason"]
MLR_COLUMNS = ["model", "factors", "n_samples", "n_factors", "r2", "adj_r2", "rmse",
               "rmse_loo"]
# Residual variance below this share of a factor's variance counts as an exact linear
# dependence (VIF = inf): floating-point noise of an exact combination is ~1e-15.
_COLLINEAR_TOLERANCE = 1e-12


@dataclass
class SelectionResult:
    """Outcome of select_factors: the per-factor table, the chosen names and the MLR check."""

    table: pd.DataFrame            # one row per input factor, TABLE_COLUMNS, input order
    selected: List[str]            # chosen factor names, input order
    correlation_matrix: pd.DataFrame  # Pearson r among non-constant factors + the metal
    mlr: pd.DataFrame              # MLR_COLUMNS; rows "selected", "without always-included"
    n_samples: int                 # samples used (complete cases)
    n_dropped: int                 # samples dropped for a missing metal or factor value
    metal_name: str = "metal"
    vif_steps: List[Dict[str, float]] = field(default_factory=list)  # VIFs before each drop

    @property
    def selected_string(self):
        """The selected names comma-separated, as the SELECTED output."""
        return ",".join(self.selected)


def _unit_scaled(values):
    """values divided by their largest finite |value| (per column of a 2-D array)."""
    with np.errstate(invalid="ignore"):
        peak = np.max(np.abs(values), axis=0)
    peak = np.where(np.isfinite(peak) & (peak > 0), peak, 1.0)
    return values / peak


def pearson_r(x, y):
    """Pearson r of each column of x (n, k) with y (n,) -> (k,); NaN for a constant column."""
    # Each variable is divided by its largest |value| first: r does not change, and values
    # near the float range (x 1e300) no longer overflow their squares to inf (r would be 0).
    x = _unit_scaled(np.asarray(x, dtype=float))
    y = _unit_scaled(np.asarray(y, dtype=float))
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    denominator = np.sqrt((xc ** 2).sum(axis=0) * (yc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc[:, None]).sum(axis=0) / denominator
    r[denominator == 0] = np.nan
    return np.clip(r, -1.0, 1.0)


def pearson_p_value(r, n):
    """Two-sided p-value of Pearson r (k,) with n samples, from t = r sqrt((n-2)/(1-r^2))."""
    r = np.asarray(r, dtype=float)
    dof = n - 2
    if dof < 1:
        return np.full(r.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(r) * np.sqrt(dof / (1.0 - r ** 2))
    p = 2.0 * stats.t.sf(t, dof)
    p[np.abs(r) >= 1.0] = 0.0
    return p


def variance_inflation_factors(x):
    """VIF of each column of x (n, k) against the other columns, with intercept -> (k,)."""
    x = np.asarray(x, dtype=float)
    n, k = x.shape
    if k == 0:
        return np.zeros(0)
    if k == 1:
        return np.ones(1)
    # Standardising first keeps lstsq well conditioned whatever the factors' units.
    centred = x - x.mean(axis=0)
    scale = np.sqrt((centred ** 2).sum(axis=0))
    scale[scale == 0] = 1.0
    z = centred / scale
    vifs = np.empty(k)
    for j in range(k):
        others = np.delete(z, j, axis=1)
        design = np.column_stack([np.ones(n), others])
        coef, *_ = np.linalg.lstsq(design, z[:, j], rcond=None)
        residual = z[:, j] - design @ coef
        unexplained = float(residual @ residual)  # z[:, j] has unit sum of squares
        vifs[j] = math.inf if unexplained <= _COLLINEAR_TOLERANCE else 1.0 / unexplained
    return vifs


def mlr_fit(x, y):
    """OLS fit with intercept of y (n,) on x (n, k) -> dict of r2, adj_r2, rmse, rmse_loo, n's."""
    y = np.asarray(y, dtype=float)
    n = y.size
    x = np.asarray(x, dtype=float).reshape(n, -1)
    k = x.shape[1]
    design = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    ss_res = float(residual @ residual)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    rank = int(np.linalg.matrix_rank(design))
    adj_r2 = (1.0 - (1.0 - r2) * (n - 1) / (n - rank)) if n - rank > 0 else math.nan
    # Leave-one-out residuals from the hat matrix: e_i / (1 - h_ii), no refitting.
    leverage = np.einsum("ij,ji->i", design, np.linalg.pinv(design))
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = residual / (1.0 - leverage)
    rmse_loo = float(np.sqrt(np.mean(loo ** 2))) if np.all(leverage < 1.0 - 1e-10) else math.nan
    return {"n_samples": n, "n_factors": k, "r2": r2, "adj_r2": adj_r2,
            "rmse": math.sqrt(ss_res / n), "rmse_loo": rmse_loo}


def select_factors(factors, y, min_abs_r=0.3, max_vif=10.0, always_include=()):
    """Screen factors (DataFrame n x k) for metal y (n,) by |r| then VIF -> SelectionResult."""
    result = _screen(factors, y, min_abs_r, max_vif, always_include)
    frame, values = result["frame"], result["values"]
    rows = [("selected", result["selected"])]
    without = _screen(factors, y, min_abs_r, max_vif, ())["selected"] if always_include else None
    if without is not None:
        rows.append(("without always-included", without))
    mlr = []
    for label, names in rows:
        fit = mlr_fit(frame[names].to_numpy(float), values)
        mlr.append({"model": label, "factors": ",".join(names), **fit})
    return SelectionResult(
        table=result["table"], selected=result["selected"],
        correlation_matrix=result["correlation_matrix"],
        mlr=pd.DataFrame(mlr, columns=MLR_COLUMNS), n_samples=result["n_samples"],
        n_dropped=result["n_dropped"], metal_name=result["metal_name"],
        vif_steps=result["vif_steps"])


def _screen(factors, y, min_abs_r, max_vif, always_include):
    """The screening itself; returns a dict of table, selected and the cleaned samples."""
    factors, values, metal_name = _validate_inputs(factors, y, min_abs_r, max_vif)
    names = [str(c) for c in factors.columns]
    always = _validate_always(always_include, names)
    reasons = {}
    frame, values, n_dropped = _complete_cases(factors, values, names, reasons)
    n = len(values)
    if n < MIN_STATISTIC_SAMPLES:
        raise SoilMetalError(
            f"Only {n} samples have a metal value and a value for every factor; at least "
            f"{MIN_STATISTIC_SAMPLES} are needed ({n_dropped} were dropped for missing values). Check "
            f"that the points fall inside the factor rasters and the field has values.")
    if np.ptp(values) == 0:
        raise SoilMetalError(
            f"The metal values are all equal ({values[0]:g}) at the {n} samples, so no "
            f"correlation can be computed: check the field chosen.")
    usable = _exclude_constant_and_duplicates(frame, names, always, reasons)

    r = pd.Series(np.nan, index=names)
    p = pd.Series(np.nan, index=names)
    if usable:
        r[usable] = pearson_r(frame[usable].to_numpy(float), values)
        p[usable] = pearson_p_value(r[usable].to_numpy(), n)
    candidates = []
    for name in usable:
        passes = abs(r[name]) >= min_abs_r
        if passes or name in always:
            candidates.append(name)
        if not passes:
            reasons[name] = f"|r| {abs(r[name]):.2f} < {min_abs_r:.2f}"

    vif = pd.Series(np.nan, index=names)
    vif_steps = []
    if len(candidates) >= 2 and n < len(candidates) + 2:
        raise SoilMetalError(
            f"The VIF test of {len(candidates)} factors needs at least "
            f"{len(candidates) + 2} samples, and there are {n}. Raise the minimum |r|, "
            f"include fewer factors, or add samples.")
    step = 0
    while candidates:
        current = variance_inflation_factors(frame[candidates].to_numpy(float))
        vif[candidates] = current
        vif_steps.append(dict(zip(candidates, current.tolist())))
        droppable = [(v, -abs(r[name]), name) for name, v in zip(candidates, current)
                     if name not in always and v > max_vif]
        if not droppable:
            break
        step += 1
        worst_vif, _, worst = max(droppable)
        reasons[worst] = (f"VIF {_vif_text(worst_vif)} > {max_vif:g} "
                          f"(dropped at step {step})")
        candidates.remove(worst)

    selected = [name for name in names if name in candidates]
    for name in always:
        if reasons.get(name) in _CONSTANT_REASONS:
            reasons[name] += " (cannot be always included)"
    for name in selected:
        if name in always:
            notes = []
            if name in reasons:
                notes.append(reasons[name])
            if vif[name] > max_vif:
                notes.append(f"VIF {_vif_text(vif[name])} > {max_vif:g}")
            reasons[name] = "always included" + (f" ({'; '.join(notes)})" if notes else "")
        else:
            reasons[name] = "kept"

    table = pd.DataFrame({
        "factor": names, "r": r.to_numpy(), "p_value": p.to_numpy(),
        "vif": vif.to_numpy(), "selected": [name in selected for name in names],
        "reason": [reasons[name] for name in names]}, columns=TABLE_COLUMNS)
    non_constant = [name for name in names
                    if not reasons[name].startswith(_CONSTANT_REASONS)]
    corr_frame = frame[non_constant].copy()
    corr_frame[metal_name] = values
    correlation_matrix = pd.DataFrame(
        np.corrcoef(corr_frame.to_numpy(float), rowvar=False).reshape(
            len(non_constant) + 1, len(non_constant) + 1),
        index=corr_frame.columns, columns=corr_frame.columns)
    return {"table": table, "selected": selected, "correlation_matrix": correlation_matrix,
            "frame": frame, "values": values, "n_samples": n, "n_dropped": n_dropped,
            "metal_name": metal_name, "vif_steps": vif_steps}


_CONSTANT_REASONS = ("constant at the samples", "no value at any sample")


def _vif_text(value):
    """VIF for a reason string: one decimal, or 'inf (exact linear dependence)'."""
    return "inf (exact linear dependence)" if math.isinf(value) else f"{value:.1f}"


def _validate_inputs(factors, y, min_abs_r, max_vif):
    """Check types and parameters; return (factors DataFrame, y float (n,), metal name)."""
    if not isinstance(factors, pd.DataFrame):
        raise TypeError("factors must be a pandas DataFrame (samples x factors)")
    metal_name = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "metal"
    try:
        values = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError):
        raise SoilMetalError("The metal field must be numeric: choose a numeric field.")
    if len(values) != len(factors):
        raise ValueError(f"y has {len(values)} values but factors has {len(factors)} rows")
    names = [str(c) for c in factors.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise SoilMetalError(
            f"Several factors are named {', '.join(duplicated)}: give every raster band a "
            f"distinct description (or use distinct layer names).")
    if not 0.0 <= float(min_abs_r) <= 1.0:
        raise SoilMetalError(f"The minimum |r| must be between 0 and 1, got {min_abs_r}.")
    if not float(max_vif) >= 1.0:
        raise SoilMetalError(f"The maximum VIF must be 1 or more (10 is usual), got {max_vif}.")
    numeric = factors.copy()
    numeric.columns = names
    for name in names:
        numeric[name] = pd.to_numeric(numeric[name], errors="coerce")
    numeric = numeric.reset_index(drop=True)
    return numeric, values, metal_name


def _validate_always(always_include, names):
    """Names to keep regardless of r and VIF; SoilMetalError for unknown names."""
    if isinstance(always_include, str):
        always_include = [part for part in always_include.split(",")]
    always = [str(name).strip() for name in always_include if str(name).strip()]
    unknown = [name for name in always if name not in names]
    if unknown:
        raise SoilMetalError(
            f"Always-include factor(s) {', '.join(unknown)} not found among the factors. "
            f"Available: {', '.join(names)}.")
    return set(always)


def _complete_cases(factors, values, names, reasons):
    """Drop samples without a metal value, factors without any value, then incomplete rows."""
    finite = np.isfinite(factors.to_numpy(float)) if len(names) else np.ones((len(values), 0), bool)
    has_metal = np.isfinite(values)
    for j, name in enumerate(names):
        if not finite[has_metal, j].any():
            reasons[name] = "no value at any sample"
    present = [j for j, name in enumerate(names) if name not in reasons]
    complete = has_metal & finite[:, present].all(axis=1)
    frame = factors.loc[complete].reset_index(drop=True)
    return frame, values[complete], int((~complete).sum())


def _exclude_constant_and_duplicates(frame, names, always, reasons):
    """Set reasons for constant and duplicated factors; return the usable names in order."""
    representatives = []
    for name in names:
        if name in reasons:
            continue
        column = frame[name].to_numpy(float)
        if np.ptp(column) == 0:
            reasons[name] = "constant at the samples"
            continue
        twin = next((other for other in representatives
                     if np.array_equal(frame[other].to_numpy(float), column)), None)
        if twin is None:
            representatives.append(name)
        elif name in always and twin not in always:
            # Keep the copy the user asked for; the earlier one becomes the duplicate.
            representatives[representatives.index(twin)] = name
            reasons[twin] = f"duplicate of {name}"
        else:
            reasons[name] = f"duplicate of {twin}"
    return [name for name in names if name in representatives]
