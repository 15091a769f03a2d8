"""Area of applicability (Meyer & Pebesma 2021, Methods Ecol. Evol. 12: 1620; CAST trainDI/aoa).

The dissimilarity index (DI) of a pixel is its distance, in importance-weighted standardised
factor space, to the nearest sample, divided by the mean distance between samples. Where the DI
exceeds what the cross-validation already saw, the model is applied to factor combinations it
was never tested on, and its error (and the calibrated intervals) are not known there.

What is done, as CAST does:
- reference set: every row of model.samples (the samples the cross-validation was run on);
- scaling: each factor standardised by the reference mean and standard deviation (ddof = 1,
  as R's scale()); a factor constant at the samples is left out (weight 0: the network ignores
  it too, its min-max gain is 0);
- weights: permutation importance of the final model on the reference samples (increase of the
  RMSE on the model's scale when one factor's column is shuffled, mean of REPEATS shuffles;
  negative importance set to 0, as CAST does with variable importance). When every importance is
  0 all factors get weight 1, as CAST does without an importance. The DI does not depend on the
  weights' overall scale; they are reported normalised to sum 1;
- mean distance: the mean of all pairwise distances between reference samples;
- training DI: each sample's distance to the nearest sample of ANOTHER cross-validation fold,
  divided by that mean distance;
- threshold: the upper whisker of a boxplot of the training DI (R's boxplot.stats()$stats[5]):
  the largest training DI not above the upper Tukey hinge + 1.5 x the hinge spread;
- a pixel is inside the area of applicability when its DI <= threshold.
Nearest neighbours on map blocks come from scipy.spatial.cKDTree, in chunks of CHUNK pixels.
"""

import math

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist

from ..errors import SoilMetalError
from .intervals import RETRAIN_HINT, model_scale
from ..model_file import require_cv, require_samples

REPEATS = 10
CHUNK = 1 << 16


def permutation_importance(model, factors, observed, rng, repeats=REPEATS):
    """Importance (L,) of each factor: mean increase of the model-scale RMSE when its column of
    factors (n, L) is shuffled, against observed (n,) mg/kg; rng a numpy Generator."""
    factors = np.asarray(factors, dtype=float)
    target = model_scale(model, observed)

    def rmse(x):
        return math.sqrt(np.mean((model_scale(model, model.predict(x)[0]) - target) ** 2))

    base = rmse(factors)
    importance = np.zeros(factors.shape[1])
    for column in range(factors.shape[1]):
        shuffled = factors.copy()
        for _ in range(repeats):
            shuffled[:, column] = rng.permutation(factors[:, column])
            importance[column] += (rmse(shuffled) - base) / repeats
    return importance


def tukey_upper_whisker(values):
    """The upper whisker of R's boxplot.stats(values, coef = 1.5): the largest value not above
    the upper hinge + 1.5 x (upper hinge - lower hinge), hinges as R's fivenum()."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    n4 = math.floor((n + 3) / 2) / 2

    def hinge(position):   # fivenum's 1-based positions: average of floor and ceiling
        return 0.5 * (x[math.floor(position) - 1] + x[math.ceil(position) - 1])
    lower, upper = hinge(n4), hinge(n + 1 - n4)
    fence = upper + 1.5 * (upper - lower)
    return float(x[x <= fence + 1e-12 * max(abs(fence), 1.0)].max())


class ApplicabilityReference:
    """The model's reference samples in weighted standardised factor space, their training DI
    and the AOA threshold; dissimilarity() gives the DI of pixels. Build it with from_model()."""

    def __init__(self, factors, folds, weights, factor_names):
        factors = np.asarray(factors, dtype=float)
        self.factor_names = list(factor_names)
        self.mean = factors.mean(axis=0)
        sd = factors.std(axis=0, ddof=1) if len(factors) > 1 else np.zeros(factors.shape[1])
        varied = sd > 0
        self.scale = np.where(varied, sd, 1.0)
        weights = np.where(varied, np.maximum(np.asarray(weights, dtype=float), 0.0), 0.0)
        if not (weights > 0).any():
            weights = varied.astype(float)
        if not (weights > 0).any():
            raise SoilMetalError("The area of applicability needs factors that vary between the "
                                 "samples; every factor of this model is constant at them. "
                                 f"{RETRAIN_HINT} on factors that vary.")
        self.weights = weights / weights.sum()
        self.reference = self.transform(factors)
        self.mean_distance = float(pdist(self.reference).mean())
        if not self.mean_distance > 0:
            raise SoilMetalError("The area of applicability needs samples that differ in their factor "
                                 f"values; all samples of this model are identical. {RETRAIN_HINT}.")
        folds = np.asarray(folds)
        self.training_di = np.empty(len(factors))
        for index in range(len(factors)):
            others = self.reference[folds != folds[index]]
            if not len(others):
                raise SoilMetalError("The area of applicability threshold needs at least two "
                                     f"cross-validation folds; this model has one. {RETRAIN_HINT}.")
            nearest = np.sqrt(((others - self.reference[index]) ** 2).sum(axis=1)).min()
            self.training_di[index] = nearest / self.mean_distance
        self.threshold = tukey_upper_whisker(self.training_di)
        self._tree = cKDTree(self.reference)

    @classmethod
    def from_model(cls, model, rng):
        """The reference of a model file with samples and CV (SoilMetalError naming the fix if not)."""
        feature = "the area of applicability (OUTPUT_AOA, AOA_MASK)"
        samples = require_samples(model, feature)
        cv = require_cv(model, feature)
        factors = np.asarray(samples["factors"], dtype=float)
        observed = np.asarray(samples["observed"], dtype=float)
        folds = np.asarray(cv["fold"])
        if factors.ndim != 2 or factors.shape[1] != model.n_inputs or len(folds) != len(factors) \
                or not np.isfinite(factors).all():
            raise SoilMetalError(f"The model file's samples do not match its factors or folds. {RETRAIN_HINT}.")
        weights = permutation_importance(model, factors, observed, rng)
        return cls(factors, folds, weights, model.factor_names)

    def transform(self, factors):
        """Raw factor values (n, L) -> weighted standardised coordinates (n, L)."""
        return (np.asarray(factors, dtype=float) - self.mean) / self.scale * self.weights

    def dissimilarity(self, pixels):
        """DI (m,) of pixels given as (L, m) raw factor values (the block layout); NaN where any
        factor is NaN. Queried in chunks of CHUNK pixels to bound memory."""
        count = pixels.shape[1]
        result = np.full(count, np.nan)
        for start in range(0, count, CHUNK):
            chunk = self.transform(np.asarray(pixels[:, start:start + CHUNK], dtype=float).T)
            valid = np.isfinite(chunk).all(axis=1)
            if valid.any():
                distance, _ = self._tree.query(chunk[valid], k=1, workers=-1)
                part = result[start:start + CHUNK]
                part[valid] = distance / self.mean_distance
        return result

    def describe_weights(self):
        """'NDVI 0.41, B4 0.22, ...' (weights in decreasing order)."""
        order = np.argsort(-self.weights, kind="stable")
        return ", ".join(f"{self.factor_names[i]} {self.weights[i]:.2f}" for i in order)
