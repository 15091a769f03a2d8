"""Outlier screening of the measured metal content before modelling (paper section 2.2.2).

The paper removed "the maximum abnormal values" seen in the histograms of Cu and Pb. Two
classical rules are offered:

* ``"iqr"`` (Tukey fences): outside [Q1 - k x IQR, Q3 + k x IQR], k = 1.5 by default
  (3.0 for "far out" values only). Quartiles are NumPy's linear-interpolation percentiles.
  Robust: one huge value barely moves the quartiles.
* ``"zscore"``: |x - mean| / std > t, t = 3.0 by default, with the sample mean and the
  sample standard deviation (ddof=1). Beware masking: the outlier itself inflates the std,
  so in n samples no value can have |z| above (n - 1) / sqrt(n) (2.85 for n = 10); with
  10 samples or fewer a threshold of 3 can never flag anything. The result's ``note`` says
  so. ``robust=True`` uses the median and the scaled median absolute deviation instead
  (1.4826 x MAD, the std of a normal sample), which a single extreme value cannot inflate.

Non-finite values (NaN, inf) are never flagged and do not enter the statistics; dropping
them is the caller's job.
"""

import math
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from ..errors import SoilMetalError
from ..guards import MIN_STATISTIC_SAMPLES

METHODS = ("none", "iqr", "zscore")
# One label per METHODS entry, same order, for the Processing enum.
LABELS = ("None: keep every sample", "IQR rule (Tukey fences, k = 1.5 unless set)",
          "z-score (|z| > 3 unless set)")
DEFAULT_THRESHOLDS = {"none": None, "iqr": 1.5, "zscore": 3.0}
# Scale that makes the MAD a consistent estimator of a normal distribution's std.
MAD_TO_STD = 1.4826


class OutlierResult(NamedTuple):
    """Outlier mask (n,) bool, list of (index, value, reason), and the rule actually used."""

    mask: np.ndarray
    outliers: List[Tuple[int, float, str]]
    method: str
    threshold: Optional[float]
    lower: float
    upper: float
    note: str

    @property
    def count(self):
        """Number of values flagged as outliers."""
        return len(self.outliers)

    def table(self):
        """The flagged values as a pandas DataFrame with columns index, value, reason."""
        import pandas as pd
        return pd.DataFrame(self.outliers, columns=["index", "value", "reason"])


def resolve_method(method):
    """Method name from a name or a Processing enum index into METHODS."""
    if isinstance(method, (int, np.integer)) and not isinstance(method, bool):
        if 0 <= int(method) < len(METHODS):
            return METHODS[int(method)]
    elif isinstance(method, str) and method.strip().lower() in METHODS:
        return method.strip().lower()
    raise SoilMetalError(
        f"Unknown outlier method {method!r}: choose one of {', '.join(METHODS)} "
        f"(or their index 0-{len(METHODS) - 1}).")


def max_possible_zscore(n):
    """Largest |z| any single value can reach among n samples with the ddof=1 std."""
    return (n - 1) / math.sqrt(n) if n >= 2 else 0.0


def find_outliers(values, method="none", threshold=None, robust=False):
    """Flag outliers in values (n,) by "none", "iqr" or "zscore"; returns an OutlierResult."""
    values = np.asarray(values, dtype=float).ravel()
    method = resolve_method(method)
    if threshold is None:
        threshold = DEFAULT_THRESHOLDS[method]
    elif method != "none":
        threshold = float(threshold)
        if not math.isfinite(threshold) or threshold <= 0:
            raise SoilMetalError(
                f"The outlier threshold must be a positive number, got {threshold}: use "
                f"1.5 or 3.0 for the IQR rule, 3.0 for the z-score rule.")
    mask = np.zeros(values.shape, dtype=bool)
    finite = np.isfinite(values)
    n_finite = int(finite.sum())
    if method == "none":
        return OutlierResult(mask, [], method, None, -math.inf, math.inf, "")
    if n_finite < MIN_STATISTIC_SAMPLES:
        return OutlierResult(mask, [], method, threshold, -math.inf, math.inf,
                             f"Outlier screening skipped: only {n_finite} valid values "
                             f"(at least {MIN_STATISTIC_SAMPLES} needed).")
    sample = values[finite]
    if method == "iqr":
        lower, upper, describe, note = _iqr_fences(sample, threshold)
    else:
        lower, upper, describe, note = _zscore_fences(sample, threshold, robust)
    with np.errstate(invalid="ignore"):
        below = finite & (values < lower)
        above = finite & (values > upper)
    mask = below | above
    outliers = [(int(i), float(values[i]), describe(float(values[i]), bool(above[i])))
                for i in np.flatnonzero(mask)]
    return OutlierResult(mask, outliers, method, threshold, float(lower), float(upper), note)


def _iqr_fences(sample, k):
    """Tukey fences of a finite sample and a reason-string builder."""
    q1, q3 = np.percentile(sample, [25.0, 75.0])
    iqr = q3 - q1
    lower, upper = q1 - k * iqr, q3 + k * iqr
    k_text = _fmt(k)

    def describe(value, is_above):
        if is_above:
            return f"above Q3 + {k_text} x IQR ({_fmt(upper)})"
        return f"below Q1 - {k_text} x IQR ({_fmt(lower)})"

    note = ""
    if iqr == 0:
        note = ("The interquartile range is 0 (at least half of the values are equal): every "
                "value different from them is flagged.")
    return lower, upper, describe, note


def _zscore_fences(sample, t, robust):
    """Mean/std (or median/MAD) fences of a finite sample and a reason-string builder."""
    n = sample.size
    note = ""
    if robust:
        centre = float(np.median(sample))
        spread = MAD_TO_STD * float(np.median(np.abs(sample - centre)))
        if spread == 0:
            # More than half the values are equal; the mean absolute deviation still
            # measures the spread of the rest (sqrt(pi/2) makes it a normal std).
            spread = math.sqrt(math.pi / 2) * float(np.mean(np.abs(sample - centre)))
        label = "robust z"
        centre_text = f"median {_fmt(centre)}, 1.4826 x MAD {_fmt(spread)}"
    else:
        centre = float(np.mean(sample))
        spread = float(np.std(sample, ddof=1))
        label = "z"
        centre_text = f"mean {_fmt(centre)}, std {_fmt(spread)}"
        if max_possible_zscore(n) <= t:
            note = (f"With {n} samples no value can have |z| above "
                    f"{max_possible_zscore(n):.2f} (the outlier inflates the std), so the "
                    f"threshold {_fmt(t)} cannot flag anything: use the IQR rule or the "
                    f"robust z-score.")
    if spread == 0:
        return -math.inf, math.inf, lambda value, is_above: "", (
            "All values are equal: no outliers.")
    lower, upper = centre - t * spread, centre + t * spread

    def describe(value, is_above):
        z = (value - centre) / spread
        return f"{label} = {z:.2f}, |{label}| > {_fmt(t)} ({centre_text})"

    return lower, upper, describe, note


def _fmt(x):
    """Short human number: 4 significant digits, no exponent for everyday magnitudes."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.3e}"
    if abs(x) >= 1000:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    return f"{x:.4g}"


def hot_spot_warning(removed, kept_values, unit="mg/kg"):
    """Warning text when the removed outliers include the highest measured values, else "".

    removed: [(sample id, value, reason)]; kept_values: the contents that stay. In a
    contamination survey the highest samples are often the hot spots the survey is for, so
    removing them is a decision the user must see, not a silent clean-up.
    """
    kept = np.asarray(kept_values, dtype=float)
    kept_max = float(np.nanmax(kept)) if kept.size else -math.inf
    high = sorted(((value, sid) for sid, value, _ in removed if value > kept_max), reverse=True)
    if not high:
        return ""
    listed = ", ".join(f"{sid} ({_fmt(value)} {unit})" for value, sid in high[:5])
    more = f" and {len(high) - 5} more" if len(high) > 5 else ""
    return (f"The outlier rule removed the {len(high)} highest measured value(s): {listed}{more}; "
            f"the highest value kept is {_fmt(kept_max)} {unit}. In a contamination survey these "
            "may be the hot spots the survey is for, and the map can then never show them. Check "
            "them in the field data; if they are real, keep them and model log(content) "
            "(LOG_TARGET), which lessens their pull on the network, or remove only gross "
            "errors (IQR rule with OUTLIERS_THRESHOLD 3, the 'far out' fences).")
