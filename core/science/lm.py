"""Levenberg-Marquardt with MATLAB trainlm semantics, in NumPy.

Each epoch solves (J^T J + mu I) dx = -J^T r. A step that lowers the performance is taken and
mu shrinks by mu_dec; otherwise mu grows by mu_inc and the step is retried, until mu exceeds
mu_max. The normal equations work with fewer residuals than parameters (16 samples, 45
weights), which scipy's least_squares(method='lm') refuses. Training stops on the first of:
performance <= goal, gradient norm < min_grad, mu > mu_max, or the epoch limit.
"""

from dataclasses import dataclass, field

import numpy as np

from ..monitor import NULL_MONITOR
from .network import forward, jacobian

MU = 1e-3
MU_DEC = 0.1
MU_INC = 10.0
MU_MAX = 1e10
MIN_GRAD = 1e-7
# trainlm floors mu here so that a long run of successful steps cannot underflow it.
MU_FLOOR = 1e-20

STOP_GOAL = "performance goal met"
STOP_MIN_GRAD = "minimum gradient reached"
STOP_MU_MAX = "maximum mu reached"
STOP_EPOCHS = "maximum epochs reached"


@dataclass
class LMResult:
    """Outcome of one Levenberg-Marquardt run."""

    x: np.ndarray                                  # final parameters (n_params,)
    perf: list = field(default_factory=list)       # performance before epoch 1, then after each epoch
    stop_reason: str = ""
    mu: float = MU                                 # mu when training stopped


def levenberg_marquardt(residual_fn, jacobian_fn, x0, perf_divisor, epochs=50, goal=0.0,
                        mu=MU, mu_dec=MU_DEC, mu_inc=MU_INC, mu_max=MU_MAX,
                        min_grad=MIN_GRAD, monitor=NULL_MONITOR, on_epoch=None):
    """Minimise sum(residual_fn(x)^2) from x0 (n,); performance = that sum / perf_divisor.

    on_epoch(x), if given, is called with the parameters at the start and after every epoch.
    """
    x = np.array(x0, dtype=float)
    residuals = residual_fn(x)
    perf = float(residuals @ residuals) / perf_divisor
    history = [perf]
    identity = np.eye(x.size)
    stop_reason = STOP_EPOCHS
    if on_epoch is not None:
        on_epoch(x)
    for epoch in range(epochs + 1):
        jac = jacobian_fn(x)
        gradient = jac.T @ residuals
        # Gradient of the performance itself, so min_grad does not depend on the sample count.
        gradient_norm = 2.0 * float(np.linalg.norm(gradient)) / perf_divisor
        if perf <= goal:
            stop_reason = STOP_GOAL
            break
        if mu > mu_max:
            stop_reason = STOP_MU_MAX
            break
        if gradient_norm < min_grad:
            stop_reason = STOP_MIN_GRAD
            break
        if epoch == epochs:
            stop_reason = STOP_EPOCHS
            break
        normal_matrix = jac.T @ jac
        while mu <= mu_max:
            try:
                step = np.linalg.solve(normal_matrix + mu * identity, -gradient)
            except np.linalg.LinAlgError:
                step = None
            if step is not None and np.all(np.isfinite(step)):
                trial = x + step
                trial_residuals = residual_fn(trial)
                trial_perf = float(trial_residuals @ trial_residuals) / perf_divisor
                if trial_perf < perf:
                    x, residuals, perf = trial, trial_residuals, trial_perf
                    mu = max(mu * mu_dec, MU_FLOOR)
                    break
            mu *= mu_inc
        history.append(perf)
        if on_epoch is not None:
            on_epoch(x)
        monitor.set_progress(100.0 * (epoch + 1) / max(epochs, 1))
        monitor.check_cancelled()
    monitor.set_progress(100.0)   # also when a stop criterion ends training early
    return LMResult(x=x, perf=history, stop_reason=stop_reason, mu=float(mu))


def train_lm(theta0, xs, ys, epochs=50, goal=0.0, mu=MU, mu_dec=MU_DEC, mu_inc=MU_INC,
             mu_max=MU_MAX, min_grad=MIN_GRAD, monitor=NULL_MONITOR):
    """Train a network theta0 (n_params,) on scaled xs (n, L), ys (n,) by LM; perf = MSE (normalised)."""
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    return levenberg_marquardt(
        residual_fn=lambda theta: forward(theta, xs) - ys,
        jacobian_fn=lambda theta: jacobian(theta, xs),
        x0=theta0, perf_divisor=float(ys.size), epochs=epochs, goal=goal, mu=mu,
        mu_dec=mu_dec, mu_inc=mu_inc, mu_max=mu_max, min_grad=min_grad, monitor=monitor)
