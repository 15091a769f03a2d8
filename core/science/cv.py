"""Cross-validation: splitters, out-of-fold predictions, CV metrics and the two baselines.

The shape is scikit-learn's model_selection without the dependency: a splitter is an object
whose split(X, y, groups) yields (train_rows, test_rows) index arrays; it knows nothing of
the model or the score. cross_val_predict refits a model (a fit function returning a predict
function) on every fold's training rows and predicts its test rows, so every sample gets one
out-of-fold prediction.

Schemes (CV parameter): 0 none, 1 random k-fold, 2 spatial k-fold (the default).

Spatial k-fold clusters the sample COORDINATES with k-means into k groups and uses each group
as one fold (the "cluster" folds of blockCV, Valavi et al. 2019, Methods Ecol. Evol. 10: 225).
Soil samples are clustered (ridges, near workings); a random fold then has neighbours of every
test sample in its training part, and the CV error is that of interpolating between near
neighbours, not of mapping the area. Whole clusters held out make the test samples about as far
from the training samples as the map's pixels are from the nearest sample, without needing a
block size (which kNNDM would tune from a prediction grid the training step does not have).
k-means is seeded (k-means++ starts, ten restarts, the lowest within-cluster sum kept), so the
same SEED gives the same folds.

Leave-one-out: with fewer than LOO_BELOW samples (15: fewer than 3 per fold at the default 5
folds), k-fold metrics rest on folds of one or two samples, and clusters of two or three
samples are not spatial blocks; then every sample is its own fold (scheme "leave-one-out"),
whatever CV and FOLDS say, and the report says so.
"""

import numpy as np

from ..errors import SoilMetalError
from .metrics import regression_metrics, rmse

SCHEMES = ("none", "random", "spatial")
SCHEME_LABELS = ("None (hold-out only)", "Random k-fold", "Spatial k-fold (clusters of sample locations)")
DEFAULT_SCHEME = 2
DEFAULT_FOLDS = 5
LOO_BELOW = 15
KMEANS_RESTARTS = 10
KMEANS_ITERATIONS = 100


class _Splitter:
    """A splitter: fold_labels() gives each row's fold, split() yields the folds from them."""

    scheme = ""

    def __init__(self, n_splits=None, rng=None):
        self.n_splits = None if n_splits is None else int(n_splits)
        self.rng = rng

    def fold_labels(self, X, y=None, groups=None):
        """Fold index (n,) of every row."""
        raise NotImplementedError

    def split(self, X, y=None, groups=None):
        """Yield (train_rows, test_rows) for every non-empty fold, in fold order."""
        yield from _splits(self.fold_labels(X, y, groups))


class KFold(_Splitter):
    """Random k-fold: a seeded permutation of the rows cut into n_splits folds of near-equal size."""

    scheme = "random"

    def fold_labels(self, X, y=None, groups=None):
        """Fold index (n,) of every row."""
        n = len(X)
        labels = np.empty(n, dtype=int)
        labels[self.rng.permutation(n)] = np.arange(n) % self.n_splits
        return labels


class LeaveOneOut(_Splitter):
    """Every row is its own fold."""

    scheme = "leave-one-out"

    def fold_labels(self, X, y=None, groups=None):
        """Fold index (n,) of every row: 0 .. n-1."""
        return np.arange(len(X))


class SpatialKFold(_Splitter):
    """Spatial k-fold: k-means clusters of the coordinates (groups, (n, 2)) are the folds."""

    scheme = "spatial"

    def fold_labels(self, X, y=None, groups=None):
        """Fold index (n,) of every row: its k-means cluster of the coordinates groups (n, 2)."""
        if groups is None:
            raise ValueError("SpatialKFold needs the sample coordinates as groups (n, 2)")
        return kmeans_labels(np.asarray(groups, dtype=float), self.n_splits, self.rng)


def _splits(labels):
    """(train_rows, test_rows) for every distinct label, in label order."""
    for value in np.unique(labels):
        yield np.flatnonzero(labels != value), np.flatnonzero(labels == value)


def _kmeans_once(points, k, rng):
    """One seeded k-means run (k-means++ start, Lloyd) -> (labels (n,), within sum of squares)."""
    n = points.shape[0]
    centres = np.empty((k, points.shape[1]))
    centres[0] = points[rng.integers(n)]
    nearest = np.sum((points - centres[0]) ** 2, axis=1)
    for index in range(1, k):
        total = nearest.sum()
        choice = rng.choice(n, p=nearest / total) if total > 0 else rng.integers(n)
        centres[index] = points[choice]
        nearest = np.minimum(nearest, np.sum((points - centres[index]) ** 2, axis=1))
    labels = np.full(n, -1)
    for _ in range(KMEANS_ITERATIONS):
        distances = np.sum((points[:, None, :] - centres[None, :, :]) ** 2, axis=2)
        new_labels = np.argmin(distances, axis=1)
        for index in range(k):
            members = new_labels == index
            if members.any():
                centres[index] = points[members].mean(axis=0)
            else:   # an empty cluster takes the point farthest from its centre
                far = int(np.argmax(distances[np.arange(n), new_labels]))
                centres[index] = points[far]
                new_labels[far] = index
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    inertia = float(np.sum((points - centres[labels]) ** 2))
    return labels, inertia


def kmeans_labels(points, k, rng):
    """Cluster index (n,) of points (n, d) by seeded k-means (best of KMEANS_RESTARTS), 0..k'-1."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or not np.isfinite(points).all():
        raise SoilMetalError("Spatial cross-validation needs finite sample coordinates. Check "
                             "the point layer's geometry, or use CV = 1 (random k-fold).")
    k = min(int(k), len(np.unique(points, axis=0)))
    best = None
    for _ in range(KMEANS_RESTARTS):
        labels, inertia = _kmeans_once(points, k, rng)
        if best is None or inertia < best[1]:
            best = (labels, inertia)
    _, labels = np.unique(best[0], return_inverse=True)   # renumber 0..k'-1
    return labels.reshape(-1)


def check_folds(n, folds):
    """SoilMetalError when FOLDS cannot be used with n samples."""
    if folds < 2:
        raise SoilMetalError(f"FOLDS is {folds}; cross-validation needs at least 2 folds. Use "
                             "FOLDS = 5, or CV = 0 to skip cross-validation.")
    if folds > n:
        raise SoilMetalError(f"FOLDS = {folds} is more than the {n} valid samples. Set FOLDS to "
                             f"at most {n} (5 is usual), or CV = 0 to skip cross-validation.")


def make_splitter(scheme, folds, n, rng):
    """The splitter for scheme ('random', 'spatial') and folds with n samples; leave-one-out
    below LOO_BELOW samples."""
    if scheme not in SCHEMES[1:]:
        raise ValueError(f"unknown cross-validation scheme {scheme!r}")
    check_folds(n, folds)
    if n < LOO_BELOW:
        return LeaveOneOut()
    return SpatialKFold(folds, rng) if scheme == "spatial" else KFold(folds, rng)


def check_fold_sizes(labels, n_train_needed, what="training"):
    """SoilMetalError when a fold leaves fewer than n_train_needed rows for training."""
    n = labels.size
    values, counts = np.unique(labels, return_counts=True)
    smallest = int(n - counts.max())
    if smallest < n_train_needed:
        raise SoilMetalError(
            f"Cross-validation cannot be run: one fold holds {int(counts.max())} of the {n} "
            f"samples, which leaves {smallest} for {what} and at least {n_train_needed} are "
            "needed. Use more FOLDS, CV = 1 (random k-fold) if the samples form one tight "
            "cluster, add sample points, or CV = 0 to skip cross-validation.")


def cross_val_predict(fit, X, y, labels, monitor=None):
    """Out-of-fold predictions (n,): fit(train_rows, fold_index) -> predict(test_rows) -> (m,)."""
    prediction = np.full(len(y), np.nan)
    for fold, (train, test) in enumerate(_splits(labels)):
        if monitor is not None:
            monitor.check_cancelled()
        predict = fit(train, fold)
        prediction[test] = predict(test)
    return prediction


def fold_rmse(obs, pred, labels):
    """RMSE (k,) of each fold's out-of-fold predictions."""
    return np.array([rmse(obs[labels == value], pred[labels == value])
                     for value in np.unique(labels)])


def cv_metrics(obs, pred, labels):
    """regression_metrics of pooled out-of-fold predictions, plus RMSE_fold_sd (sd of per-fold RMSE)."""
    metrics = regression_metrics(obs, pred)
    per_fold = fold_rmse(np.asarray(obs, float), np.asarray(pred, float), labels)
    metrics["RMSE_fold_sd"] = float(np.std(per_fold, ddof=1)) if per_fold.size > 1 else float("nan")
    return metrics


# ---------------------------------------------------------------- baselines

def fit_mean(x, target):
    """The training mean of target (model scale) as a predictor: predict(x (m, p)) -> (m,)."""
    centre = float(np.mean(target))
    return lambda new_x: np.full(len(new_x), centre)


def fit_mlr(x, target):
    """Ordinary least squares of target on x (n, p) with an intercept -> predict(x (m, p)) -> (m,).

    lstsq's minimum-norm solution keeps it defined when there are more factors than samples
    or collinear factors.
    """
    x = np.asarray(x, dtype=float)
    design = np.column_stack([np.ones(len(x)), x])
    coef, *_ = np.linalg.lstsq(design, np.asarray(target, dtype=float), rcond=None)
    return lambda new_x: np.column_stack([np.ones(len(new_x)), np.asarray(new_x, float)]) @ coef


def baseline_oof(x, y, labels, log_target=False, pick=None):
    """Out-of-fold predictions (mg/kg) of the training mean and of MLR, refit per fold -> dict.

    With log_target both are fitted to log(content) and back-transformed by exp, as the
    network is (so the mean baseline is the training samples' geometric mean). pick(train,
    fold) -> rows chooses the rows each fold is fitted on (default: all its training rows).
    """
    target = np.log(y) if log_target else np.asarray(y, dtype=float)
    back = np.exp if log_target else (lambda values: values)
    result = {}
    for name, fitter in (("mean", fit_mean), ("mlr", fit_mlr)):
        def fit(train, fold, fitter=fitter):
            train = train if pick is None else pick(train, fold)
            predictor = fitter(x[train], target[train])
            return lambda test: back(predictor(x[test]))
        result[name] = cross_val_predict(fit, x, y, labels)
    return result


def model_scale_residual(obs, pred, log_target):
    """observed - prediction on the model's scale (log(obs) - log(pred) when log_target)."""
    obs, pred = np.asarray(obs, float), np.asarray(pred, float)
    if log_target:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(obs) - np.log(pred)
    return obs - pred


def bootstrap_rmse_difference(obs, pred_a, pred_b, rng, count=2000, level=0.9):
    """Paired bootstrap of RMSE(a) - RMSE(b) over samples -> (difference, low, high) at level."""
    obs, pred_a, pred_b = (np.asarray(v, dtype=float) for v in (obs, pred_a, pred_b))
    n = obs.size
    rows = rng.integers(0, n, size=(count, n))
    err_a = (pred_a - obs) ** 2
    err_b = (pred_b - obs) ** 2
    diffs = np.sqrt(err_a[rows].mean(axis=1)) - np.sqrt(err_b[rows].mean(axis=1))
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return float(np.sqrt(err_a.mean()) - np.sqrt(err_b.mean())), float(low), float(high)
