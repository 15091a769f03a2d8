"""Regression error metrics, defined once for every report (INTERFACE.md "Metrics, everywhere")."""

import numpy as np

# The unit of measured and predicted contents, and so of RMSE and MAE.
UNIT = "mg/kg"


def _finite_pairs(obs, pred):
    """obs, pred (n,) as float arrays with the pairs where either is NaN/inf left out."""
    obs = np.asarray(obs, dtype=float).ravel()
    pred = np.asarray(pred, dtype=float).ravel()
    if obs.shape != pred.shape:
        raise ValueError(f"obs has {obs.size} values but pred has {pred.size}")
    keep = np.isfinite(obs) & np.isfinite(pred)
    return obs[keep], pred[keep]


def rmse(obs, pred):
    """Root mean squared error sqrt(mean((pred - obs)^2)) of obs, pred (n,)."""
    obs, pred = _finite_pairs(obs, pred)
    return float(np.sqrt(np.mean((pred - obs) ** 2))) if obs.size else float("nan")


def mre(obs, pred):
    """Mean relative error mean(|pred - obs| / |obs|) as a fraction; samples with obs == 0 are left out."""
    obs, pred = _finite_pairs(obs, pred)
    nonzero = obs != 0
    if not nonzero.any():
        return float("nan")
    return float(np.mean(np.abs(pred[nonzero] - obs[nonzero]) / np.abs(obs[nonzero])))


def mae(obs, pred):
    """Mean absolute error mean(|pred - obs|) of obs, pred (n,)."""
    obs, pred = _finite_pairs(obs, pred)
    return float(np.mean(np.abs(pred - obs))) if obs.size else float("nan")


def r2(obs, pred):
    """Coefficient of determination 1 - SS_res / SS_tot (NaN when obs is constant or empty)."""
    obs, pred = _finite_pairs(obs, pred)
    if obs.size == 0:
        return float("nan")
    ss_tot = float(np.sum((obs - obs.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((pred - obs) ** 2)) / ss_tot


def regression_metrics(obs, pred):
    """Dict with RMSE, MRE (fraction), MAE, R2 and N (pairs used) for obs, pred (n,); NaN pairs are skipped."""
    obs, pred = _finite_pairs(obs, pred)
    return {"RMSE": rmse(obs, pred), "MRE": mre(obs, pred), "MAE": mae(obs, pred),
            "R2": r2(obs, pred), "N": int(obs.size)}
