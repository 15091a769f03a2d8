"""Cross-validation of GA-BP (traingabp) and the model file's samples / cv sections.

Every fold's network is trained with the settings of the final model (same GA, LM, ensemble
size, log target) from a seed derived from SEED and the fold index; the training mean and a
multiple linear regression on the same factors are refit on the same folds. The result is the
model.cv dict of SCHEMA.md: folds, out-of-fold predictions, residuals on the model's scale,
and the metrics of the model and both baselines.
"""

import numpy as np

from .cv import (DEFAULT_FOLDS, LOO_BELOW, SCHEMES, baseline_oof, check_fold_sizes,
                 cross_val_predict, cv_metrics, fold_rmse, make_splitter, model_scale_residual)
from .gabp import MIN_TRAINABLE_SAMPLES, train_gabp
from ..monitor import NULL_MONITOR, Monitor

# Random streams derived from the user's seed, apart from the hold-out split's (7001) and
# the transfer bootstrap's (7002): changing FOLDS does not change the final model.
FOLD_STREAM = 7101
FOLD_MODEL_STREAM = 7102


def fold_generator(seed):
    """The Generator that draws the folds for SEED."""
    return np.random.default_rng((FOLD_STREAM, int(seed)))


def fold_model_generator(seed, fold):
    """The Generator of fold's model for SEED."""
    return np.random.default_rng((FOLD_MODEL_STREAM, int(seed), int(fold)))


def quiet_child(monitor, start, end):
    """A child Monitor with progress and cancellation but no log lines (folds would repeat them)."""
    return Monitor(monitor.set_progress, monitor.is_cancelled, start=start, end=end)


def scheme_from_index(index):
    """CV enum index (0 none, 1 random, 2 spatial) -> scheme name."""
    index = int(index)
    if not 0 <= index < len(SCHEMES):
        raise ValueError(f"CV must be 0, 1 or 2, got {index}")
    return SCHEMES[index]


def fold_labels(scheme, folds, x, coordinates, seed, min_train=MIN_TRAINABLE_SAMPLES):
    """(scheme actually used, fold index (n,)) for the given scheme name and FOLDS."""
    splitter = make_splitter(scheme, int(folds), len(x), fold_generator(seed))
    labels = splitter.fold_labels(x, None, coordinates)
    check_fold_sizes(labels, min_train)
    return splitter.scheme, labels


def cv_record(scheme, labels, y, prediction, baselines, log_target):
    """The model.cv dict of SCHEMA.md (plus per-fold RMSE and the baselines' predictions)."""
    return {
        "scheme": scheme,
        "folds": int(np.unique(labels).size),
        "fold": [int(v) for v in labels],
        "prediction": [float(v) for v in prediction],
        "residual": [float(v) for v in model_scale_residual(y, prediction, log_target)],
        "metrics": cv_metrics(y, prediction, labels),
        "mean_metrics": cv_metrics(y, baselines["mean"], labels),
        "mlr_metrics": cv_metrics(y, baselines["mlr"], labels),
        "fold_rmse": [float(v) for v in fold_rmse(y, prediction, labels)],
        "mean_prediction": [float(v) for v in baselines["mean"]],
        "mlr_prediction": [float(v) for v in baselines["mlr"]],
    }


def cross_validate_gabp(x, y, coordinates, factor_names, settings, scheme="spatial",
                        folds=DEFAULT_FOLDS, monitor=NULL_MONITOR, metal=""):
    """Out-of-fold GA-BP predictions of every sample and the baselines -> model.cv dict.

    x (n, p) raw factors, y (n,) mg/kg, coordinates (n, 2). settings: the final model's
    GABPSettings (used unchanged in every fold).
    """
    used, labels = fold_labels(scheme, folds, x, coordinates, settings.seed)
    count = int(np.unique(labels).size)
    if used == "leave-one-out" and scheme != "leave-one-out":
        monitor.info(f"Only {len(y)} samples (fewer than {LOO_BELOW}): cross-validation is "
                     "leave-one-out, every sample its own fold.")
    monitor.info(f"Cross-validation: {used}, {count} folds; every fold's model is trained with "
                 "the final model's settings.")

    def fit(train, fold):
        model = train_gabp(x[train], y[train], factor_names, settings,
                           monitor=quiet_child(monitor, 100.0 * fold / count,
                                               100.0 * (fold + 1) / count),
                           metal=metal, rng=fold_model_generator(settings.seed, fold))
        return lambda test: model.predict(x[test])[0]

    prediction = cross_val_predict(fit, x, y, labels, monitor)
    record = cv_record(used, labels, y, prediction,
                       baseline_oof(x, y, labels, settings.log_target), settings.log_target)
    monitor.set_progress(100)
    return record


def samples_record(crs_wkt, ids, x_coords, y_coords, factors, observed, roles):
    """The model.samples dict of SCHEMA.md."""
    return {
        "crs": str(crs_wkt or ""),
        "x": [float(v) for v in x_coords],
        "y": [float(v) for v in y_coords],
        "id": [str(v) for v in ids],
        "factors": [[float(v) for v in row] for row in np.asarray(factors, dtype=float)],
        "observed": [float(v) for v in observed],
        "role": [str(v) for v in roles],
    }
