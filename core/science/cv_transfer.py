"""Tr-GA-BP fitted as transfergabp does it, its cross-validation, and the transfer verdict.

fit_transfer is the one way a transfer is fitted (a source ensemble member by member, or a
single source network on bootstrap resamples for ENSEMBLE > 1), used for the final model and
for every fold.

Cross-validation runs on ALL valid target samples. TRAIN_SAMPLES keeps the paper's meaning
(how many target samples a transfer is retrained on): in every fold, Tr-GA-BP, GA-BP from
scratch, the training mean and MLR are all fitted on the same TRAIN_SAMPLES samples drawn
(seeded) from the fold's training part (all of it when it is smaller), and predict the fold's
held-out samples; the source model is applied unchanged. So the CV error is that of the
procedure the final model came from, measured on every sample instead of the few left over.

The verdict compares Tr-GA-BP with GA-BP from scratch on the same samples by a paired
bootstrap of the RMSE difference (Tr-GA-BP minus GA-BP): "helps" when the whole 90 % interval
is below 0, "negative" when it is above 0, else "no detectable difference" with N samples.
"""

from dataclasses import replace

import numpy as np

from .cv import baseline_oof, bootstrap_rmse_difference, cross_val_predict, fold_rmse
from .cv_gabp import fold_labels, fold_model_generator, quiet_child
from .gabp import MIN_TRAINABLE_SAMPLES, member_generators, train_gabp
from ..monitor import NULL_MONITOR
from .transfer import transfer, transferred_factor_ranges

BOOTSTRAP_STREAM = 7002          # the bootstrap resamples of a single-network source
VERDICT_STREAM = 7103            # the bootstrap of the verdict
VERDICT_LEVEL = 0.9
VERDICT_RESAMPLES = 2000
VERDICTS = ("helps", "negative", "no detectable difference")


def _bootstrap_transfer(source, x_train, y_train, settings, count, seed, monitor, metal):
    """Transfer a single-network source count times on bootstrap resamples -> one Model."""
    generators = member_generators(np.random.default_rng((BOOTSTRAP_STREAM, int(seed))), count)
    models = []
    for index, generator in enumerate(generators):
        monitor.check_cancelled()
        rows = generator.integers(0, y_train.size, y_train.size)
        model, _ = transfer(source, x_train[rows], y_train[rows], settings, rng=generator,
                            monitor=monitor.child(100.0 * index / count,
                                                  100.0 * (index + 1) / count), metal=metal)
        models.append(model)
    first = models[0]
    provenance = dict(first.provenance)
    for key in ("beta", "beta0", "grid_mse"):
        provenance[key] = [model.provenance[key][0] for model in models]
    factor_ranges = transferred_factor_ranges(source, x_train)
    return replace(first, members=[model.members[0] for model in models],
                   curves=[model.curves[0] for model in models], provenance=provenance,
                   factor_ranges=factor_ranges)


def fit_transfer(source, x_train, y_train, settings, ensemble, monitor=NULL_MONITOR, metal="",
                 seed=None):
    """Tr-GA-BP on x_train (n, L), y_train (n,) as transfergabp fits it -> (Model, mode text)."""
    seed = settings.seed if seed is None else seed
    ensemble = int(ensemble)
    if source.ensemble_size > 1:
        mode = (f"each of the source model's {source.ensemble_size} networks transferred on "
                "its own")
        model, _ = transfer(source, x_train, y_train, settings,
                            rng=np.random.default_rng(int(seed)), monitor=monitor, metal=metal)
    elif ensemble > 1:
        mode = (f"the single source network transferred {ensemble} times, on bootstrap "
                f"resamples of the {y_train.size} retraining samples")
        model = _bootstrap_transfer(source, x_train, y_train, settings, ensemble, seed,
                                    monitor, metal)
    else:
        mode = "single network"
        model, _ = transfer(source, x_train, y_train, settings,
                            rng=np.random.default_rng(int(seed)), monitor=monitor, metal=metal)
    return model, mode


def fold_training_rows(train, train_samples, seed, fold):
    """Up to train_samples of a fold's training rows, drawn seeded (sorted)."""
    if train.size <= train_samples:
        return train
    rng = np.random.default_rng((VERDICT_STREAM + 1, int(seed), int(fold)))
    return np.sort(rng.choice(train, int(train_samples), replace=False))


def cross_validate_transfer(source, x, y, coordinates, settings, baseline_settings,
                            train_samples, ensemble, scheme="spatial", folds=5,
                            monitor=NULL_MONITOR, metal=""):
    """Out-of-fold predictions (mg/kg) on every target sample -> dict.

    Keys: scheme, labels (n,), predictions {"Tr-GA-BP", "GA-BP", "Source", "mean", "mlr"}
    each (n,), fold_rmse {name: (k,)}, retrained (samples each fold was fitted on).
    """
    used, labels = fold_labels(scheme, folds, x, coordinates, settings.seed,
                               min_train=MIN_TRAINABLE_SAMPLES)
    count = int(np.unique(labels).size)
    monitor.info(f"Cross-validation on all {y.size} target samples: {used}, {count} folds; "
                 f"each fold retrains on up to {train_samples} samples of its training part.")
    picks = {}

    def pick(train, fold):
        picks[fold] = fold_training_rows(train, train_samples, settings.seed, fold)
        return picks[fold]

    def fit_tr(train, fold):
        rows = pick(train, fold)
        fold_seed = int(fold_model_generator(settings.seed, fold).integers(2 ** 31))
        model, _ = fit_transfer(source, x[rows], y[rows], settings, ensemble,
                                quiet_child(monitor, 50.0 * fold / count,
                                            50.0 * (fold + 0.5) / count),
                                metal, seed=fold_seed)
        return lambda test: model.predict(x[test])[0]

    def fit_gabp(train, fold):
        rows = picks[fold]
        model = train_gabp(x[rows], y[rows], list(source.factor_names), baseline_settings,
                           monitor=quiet_child(monitor, 50.0 * (fold + 0.5) / count,
                                               50.0 * (fold + 1) / count),
                           metal=metal, rng=fold_model_generator(baseline_settings.seed, fold))
        return lambda test: model.predict(x[test])[0]

    predictions = {"Tr-GA-BP": cross_val_predict(fit_tr, x, y, labels, monitor)}
    monitor.set_progress(50)
    predictions["GA-BP"] = cross_val_predict(fit_gabp, x, y, labels, monitor)
    predictions["Source"] = source.predict(x)[0]
    baselines = baseline_oof(x, y, labels, source.log_target,
                             pick=lambda train, fold: picks[fold])
    predictions["mean"], predictions["mlr"] = baselines["mean"], baselines["mlr"]
    monitor.set_progress(100)
    return {"scheme": used, "labels": labels, "predictions": predictions,
            "fold_rmse": {name: fold_rmse(y, pred, labels) for name, pred in predictions.items()},
            "retrained": int(max(len(rows) for rows in picks.values()))}


def transfer_verdict(y, pred_transfer, pred_scratch, seed):
    """Paired comparison of Tr-GA-BP and GA-BP from scratch on the same samples -> dict.

    difference = RMSE(Tr-GA-BP) - RMSE(GA-BP) (mg/kg, below 0: transfer better) with its
    bootstrap interval; wins = samples where Tr-GA-BP's absolute error is the smaller.
    """
    y, a, b = (np.asarray(v, dtype=float) for v in (y, pred_transfer, pred_scratch))
    keep = np.isfinite(y) & np.isfinite(a) & np.isfinite(b)
    y, a, b = y[keep], a[keep], b[keep]
    if y.size < 2:
        return {"verdict": "no detectable difference", "n": int(y.size), "difference": None,
                "low": None, "high": None, "wins": 0, "losses": 0, "ties": 0,
                "level": VERDICT_LEVEL}
    difference, low, high = bootstrap_rmse_difference(
        y, a, b, np.random.default_rng((VERDICT_STREAM, int(seed))), VERDICT_RESAMPLES,
        VERDICT_LEVEL)
    err_a, err_b = np.abs(a - y), np.abs(b - y)
    verdict = "helps" if high < 0 else "negative" if low > 0 else "no detectable difference"
    return {"verdict": verdict, "n": int(y.size), "difference": difference, "low": low,
            "high": high, "wins": int(np.sum(err_a < err_b)),
            "losses": int(np.sum(err_a > err_b)), "ties": int(np.sum(err_a == err_b)),
            "level": VERDICT_LEVEL}
