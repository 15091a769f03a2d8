"""Calibrated prediction intervals and exceedance probabilities from out-of-fold residuals.

What is done (split-conformal with cross-validation residuals, "CV residual" conformal):

- The calibration set is model.cv["residual"]: r_i = observed_i - prediction_i of each sample,
  predicted by the fold model that did not see it, ON THE MODEL'S SCALE (log content for a
  LOG_TARGET model, mg/kg otherwise). The new pixel's prediction f(x) is the final model's, on
  the same scale (log of the content map for LOG_TARGET, the content map otherwise).
- Predictive distribution: Y = f(x) + e, where e is distributed like the n residuals. It is the
  (unsmoothed) split-conformal predictive distribution: the empirical distribution of the r_i
  with one extra 1/(n + 1) of mass spread around them, i.e. the finite-sample (n + 1) rule.
- Interval for COVERAGE 1 - alpha, equal-tailed: lower = f + r_(k_lo), upper = f + r_(k_hi) with
  r_(1) <= ... <= r_(n) the sorted residuals, k_lo = floor((n + 1) alpha / 2) and
  k_hi = ceil((n + 1)(1 - alpha / 2)). k_lo = 0 means an unbounded lower end (0 mg/kg); k_hi > n
  cannot be bounded and is refused: COVERAGE must then be at most (n - 1) / (n + 1). Equal tails
  (rather than +-quantile of |r|) keep the skew of the residuals, which matters on the log scale.
  For LOG_TARGET models the bounds are exp(f + r): the interval is multiplicative in mg/kg.
  Contents cannot be negative: bounds below 0 mg/kg are clamped to 0.
- Exceedance P(Y > T) = (#{i: r_i >= d} + 1/2) / (n + 1) with d = T - f (T and f on the model's
  scale: log(T) for LOG_TARGET), the conformal predictive distribution with its tie-breaking
  variable at 1/2. It never says 0 or 1: with n residuals it is between 1/(2(n + 1)) and
  1 - 1/(2(n + 1)), the honest resolution of n samples.

Assumption (what the guarantee rests on): the pixel's error f(x) - Y is exchangeable with the
out-of-fold errors of the samples. Then P(lower <= Y <= upper) >= 1 - alpha over pixels like
the samples (marginal coverage, not per pixel), and at most 1 - alpha + 2/(n + 1) without ties.
It holds where the map is like the samples: inside the area of applicability (core/science/aoa.py),
not where the model extrapolates. The residuals come from fold models fitted on (k - 1)/k of the
samples, which are usually slightly worse than the final model, so the intervals lean
conservative; spatial folds make them reflect errors at a distance from the samples.

An extra per-pixel variance term (e.g. a kriging variance of the residuals) enters the
exceedance as `extra_sd`: the predictive distribution becomes the residual distribution
convolved with N(0, extra_sd^2), i.e. each residual carries a Gaussian kernel of that width
(cost: one pass over the pixels per residual). The interval bounds do not take it yet: their
quantiles of that mixture would need a root search per pixel; the place to add it is
ResidualDistribution.interval (solve sum_i Phi((d - r_i) / sd) = k - 1/2 for k = k_lo, k_hi,
which gives r_(k) as sd -> 0).
"""

import math

import numpy as np
from scipy.special import ndtr

from ..errors import SoilMetalError
from ..model_file import require_cv
from .content_stats import positive_content

RETRAIN_HINT = ("Retrain the model with 'Train GA-BP model' or 'Transfer GA-BP model (Tr-GA-BP)' "
                "with cross-validation (CV = 1 random or 2 spatial k-fold)")


def check_coverage(coverage):
    """coverage as a float in (0, 1); SoilMetalError naming the range otherwise."""
    try:
        value = float(coverage)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise SoilMetalError(f"COVERAGE must be a share between 0 and 1 (exclusive), e.g. 0.9 for "
                             f"90 % prediction intervals; got {coverage!r}.")
    return value


def check_threshold(threshold):
    """threshold (mg/kg) as a positive finite float; SoilMetalError naming the fix otherwise."""
    return positive_content(threshold, "THRESHOLD must be a content in mg/kg greater than 0 (e.g. a "
                                       "guideline value such as 100); got {value!r}.")


def cv_residuals(model, feature):
    """The model's out-of-fold residuals (n,) on its own scale; SoilMetalError naming the fix
    (retrain with CV) when the model file has none. `feature` names what needs them."""
    residuals = require_cv(model, feature).get("residual")
    values = np.asarray(residuals if residuals is not None else [], dtype=float)
    if not np.isfinite(values).all():
        raise SoilMetalError(f"The model file's cross-validation residuals hold non-finite values. "
                             f"{RETRAIN_HINT}.")
    return values


class ResidualDistribution:
    """The conformal predictive distribution of one model: Y = f + e, e ~ out-of-fold residuals.

    residuals: (n,) on the model's scale; log_target: True when that scale is log(mg/kg).
    """

    def __init__(self, residuals, log_target=False):
        self.residuals = np.sort(np.asarray(residuals, dtype=float).reshape(-1))
        if self.residuals.size < 2:
            raise SoilMetalError(f"Prediction intervals need at least 2 cross-validation residuals, "
                                 f"the model has {self.residuals.size}. {RETRAIN_HINT} on more samples.")
        self.log_target = bool(log_target)

    @property
    def n(self):
        """Number of calibration residuals."""
        return self.residuals.size

    def max_coverage(self):
        """The largest COVERAGE whose interval is bounded with n residuals: (n - 1) / (n + 1)."""
        return (self.n - 1) / (self.n + 1)

    def quantile_offsets(self, coverage):
        """(low, high) residual offsets of the equal-tailed conformal interval; low may be -inf."""
        alpha = 1.0 - check_coverage(coverage)
        n = self.n
        k_lo = math.floor((n + 1) * alpha / 2.0 + 1e-9)
        k_hi = math.ceil((n + 1) * (1.0 - alpha / 2.0) - 1e-9)
        if k_hi > n:
            raise SoilMetalError(
                f"A {100 * (1 - alpha):g} % prediction interval cannot be bounded with {n} "
                f"cross-validation residuals (it needs at least {math.ceil(2 / alpha - 1 - 1e-9)}). "
                f"Lower COVERAGE to at most {self.max_coverage():.3f}, or retrain on more samples.")
        low = -math.inf if k_lo < 1 else float(self.residuals[k_lo - 1])
        return low, float(self.residuals[k_hi - 1])

    def interval(self, centre, coverage):
        """Lower and upper bounds (mg/kg, clamped at 0) for model-scale predictions centre (m,)."""
        low, high = self.quantile_offsets(coverage)
        centre = np.asarray(centre, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            lower, upper = centre + low, centre + high
            if self.log_target:
                lower, upper = np.exp(lower), np.exp(upper)
        known = np.isfinite(centre)
        return (np.where(known, np.maximum(lower, 0.0), np.nan),
                np.where(known, np.maximum(upper, 0.0), np.nan))

    def to_model_scale(self, content):
        """A content in mg/kg (scalar or array) on the model's scale (log for LOG_TARGET)."""
        content = np.asarray(content, dtype=float)
        if not self.log_target:
            return content
        with np.errstate(divide="ignore"):
            return np.log(content)

    def exceedance(self, centre, threshold, extra_sd=None):
        """P(content > threshold mg/kg) (m,) for model-scale predictions centre (m,); NaN stays NaN.

        extra_sd (m,) or scalar, optional: the standard deviation (model scale) of an independent
        Gaussian error term added to the residuals (e.g. kriging of the residuals); None or 0 =
        the unsmoothed conformal distribution.
        """
        centre = np.asarray(centre, dtype=float)
        distance = self.to_model_scale(check_threshold(threshold)) - centre
        if extra_sd is None:
            # #{r_i >= d}: residuals sorted, so one binary search per pixel.
            above = self.n - np.searchsorted(self.residuals, np.nan_to_num(distance), side="left")
        else:
            sd = np.broadcast_to(np.asarray(extra_sd, dtype=float), centre.shape)
            above = np.zeros_like(centre)
            positive = sd > 0
            for residual in self.residuals:
                # P(r + N(0, sd^2) >= d) per residual; sd = 0 falls back to the indicator.
                above += np.where(positive, ndtr((residual - distance) / np.where(positive, sd, 1.0)),
                                  residual >= distance)
        probability = (above + 0.5) / (self.n + 1)
        return np.where(np.isfinite(centre), probability, np.nan)


def model_scale(model, content):
    """Predictions in mg/kg (n,) on the model's scale: log for LOG_TARGET models (NaN stays NaN)."""
    content = np.asarray(content, dtype=float)
    if not model.log_target:
        return content
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(content)


def distribution_of(model, feature="prediction intervals"):
    """The model's ResidualDistribution; SoilMetalError naming the fix when it has no CV."""
    return ResidualDistribution(cv_residuals(model, feature), model.log_target)


def observed_coverage(model, factors, observed, coverage):
    """Share of samples whose observed content (n,) lies inside the model's COVERAGE interval
    at their factor values (n, L); with the count inside and the count scored (finite rows)."""
    distribution = distribution_of(model, "prediction intervals")
    content = model.predict(np.asarray(factors, dtype=float))[0]
    lower, upper = distribution.interval(model_scale(model, content), coverage)
    observed = np.asarray(observed, dtype=float)
    scored = np.isfinite(lower) & np.isfinite(observed)
    inside = scored & (observed >= lower) & (observed <= upper)
    count = int(scored.sum())
    return {"coverage": inside.sum() / count if count else math.nan, "inside": int(inside.sum()),
            "n": count, "nominal": check_coverage(coverage)}
