"""Tr-GA-BP (paper 3.2.2): parameter transfer of a source GA-BP model to a target period.

The transferred network keeps the SOURCE model's input and target scaling, so every weight
keeps its meaning; target samples outside the source ranges are allowed and reported.

Step 1: beta0 = the beta of beta_grid whose network beta * W_S best fits the target training
samples (the MSE of every grid value is recorded).
Step 2: from W = beta0 * W_S, beta and W are optimised together on

    MSE(target training samples) + penalty * sum(anchor * (W - beta * W_S)^2) / n_params

where anchor is 1 on the hidden layer and output_anchor on the output layer.

by gradient descent (method "gd") or Levenberg-Marquardt (method "lm"). The penalty keeps W
close to the scaled source network beta * W_S, so 16 samples cannot drag a 45-weight network
anywhere they like. Every member of an ensemble source model is transferred on its own.
"""

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import SoilMetalError
from ..guards import check_list_size, grid_count
from .gabp import GABPSettings, check_training_data, member_generators
from .lm import levenberg_marquardt
from .metrics import regression_metrics
from ..model_file import Model
from ..monitor import NULL_MONITOR
from .network import forward, forward_population, jacobian, minmax_apply

DEFAULT_BETA_GRID = tuple(round(0.1 * step, 1) for step in range(11))   # 0, 0.1, ..., 1

# penalty (lambda): with lambda = 10, moving every weight 0.05 away from beta * W_S costs
# 10 * 0.05^2 = 0.025 of scaled MSE, about what a target RMSE of 8 % of the source range costs.
# That is a strong prior, as 16 samples call for: the output threshold and a few weights absorb
# a shift or a change of slope between periods, the bulk of the source network stays. Measured
# (12 splits, 16 target samples, median held-out RMSE in mg/kg), for lambda 0 / 1 / 10 / 100:
# synthetic target = source + shift: 4.55 / 4.16 / 3.70 / 4.03 (from scratch 5.17, source as
# is 8.49); real Meuse Cu with target = 1.2 Cu + 5: 17.9 / 15.4 / 14.6 / 15.3 (from scratch
# 18.5, source as is 18.8). Free fine-tuning (0) overfits; a rigid prior (100+) cannot adapt.
DEFAULT_PENALTY = 10.0
# How strongly the output layer (w2, b2: the "head" that turns hidden features into content) is
# held to beta * W_S, relative to the hidden layer. A later survey usually differs from the
# first by a shift or change of level (more contamination, a radiometric offset): that is what
# the head must absorb, while the hidden layer keeps what the first survey taught. Anchoring the
# head as hard as the features (1.0) blocks exactly that recalibration; a free head (0) overfits
# 16 samples. Measured on the real Meuse samples split into two parts of the floodplain (median
# held-out RMSE over 10 seeds, bench/real_data_meuse.py), anchor 1.0 -> 0.3: Cu, flooding class 1
# -> 2-3: 11.6 -> 9.9 (Tr-GA-BP beating GA-BP from scratch in 2 -> 6 of 10 seeds); Cu north ->
# south 13.5 -> 14.0; Pb flooding split 78.6 -> 75.7; Pb north -> south 97.6 -> 99.3.
DEFAULT_OUTPUT_ANCHOR = 0.3
# Early stopping: stop when the monitored error has not dropped by a relative 1e-4 for this
# many epochs. The monitored error is the penalised training objective (convergence), or the
# MSE of an internal hold-out when validation_fraction > 0.
DEFAULT_PATIENCE = 30
MIN_RELATIVE_IMPROVEMENT = 1e-4
MAX_STEP_HALVINGS = 30
METHODS = ("gd", "lm")


@dataclass
class TransferSettings:
    """Settings of the Tr-GA-BP transfer step."""

    beta_grid: tuple = DEFAULT_BETA_GRID   # candidate beta0 values
    learning_rate: float = 0.1             # gradient-descent step (largest step used)
    epochs: int = 500                      # maximum epochs of step 2
    penalty: float = DEFAULT_PENALTY       # lambda of the ||W - beta W_S||^2 / n_params term
    output_anchor: float = DEFAULT_OUTPUT_ANCHOR  # share of the penalty on the output layer
    patience: int = DEFAULT_PATIENCE       # epochs without improvement before stopping ("gd")
    method: str = "gd"                     # "gd" gradient descent, "lm" Levenberg-Marquardt
    validation_fraction: float = 0.0       # share held out for early stopping ("gd" only)
    seed: int = 0                          # seeds the internal hold-out split

    def validate(self):
        """Raise SoilMetalError naming the first setting out of range."""
        checks = [
            (len(self.beta_grid) >= 1 and all(np.isfinite(self.beta_grid)),
             "the beta grid needs at least one finite value"),
            (self.learning_rate > 0, "the learning rate must be above 0"),
            (self.epochs >= 0, "the number of epochs cannot be negative"),
            (self.penalty >= 0, "the penalty cannot be negative"),
            (0.0 <= self.output_anchor <= 1.0, "the output-layer anchor must be between 0 and 1"),
            (self.patience >= 1, "the patience must be at least 1 epoch"),
            (self.method in METHODS, f"the method must be one of {', '.join(METHODS)}"),
            (0.0 <= self.validation_fraction < 1.0,
             "the validation fraction must be at least 0 and below 1"),
            (self.seed >= 0, "the random seed cannot be negative"),
        ]
        for passed, message in checks:
            if not passed:
                raise SoilMetalError(f"Invalid transfer setting: {message}. Change it and run again.")


def parse_beta_grid(text):
    """Beta grid from 'start:stop:step' (MATLAB order, stop included) or '0,0.5,1' -> tuple."""
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            count = grid_count(start, stop, step)
            return tuple(round(start + step * index, 10) for index in range(count))
        values = tuple(float(part) for part in text.split(",") if part.strip())
        if not values:
            raise ValueError
        check_list_size(values)
        return values
    except ValueError:
        raise SoilMetalError(f"Cannot read the beta grid '{text}'. Write it as start:stop:step "
                             "(for example 0:1:0.1) or as a comma-separated list.") from None


def grid_errors(theta_source, xs, ys, beta_grid):
    """MSE (G,) on scaled xs (n, L), ys (n,) of the networks beta * theta_source for each grid beta."""
    scaled = np.outer(np.asarray(beta_grid, dtype=float), theta_source)
    return np.mean((forward_population(scaled, xs) - ys[None, :]) ** 2, axis=1)


def anchor_weights(n_params, hidden, output_anchor):
    """Per-parameter weight (n_params,) of the penalty: 1 on the hidden layer (W1, b1),
    output_anchor on the output layer (w2, b2), which are the last hidden + 1 parameters."""
    weights = np.ones(n_params)
    weights[n_params - hidden - 1:] = output_anchor
    return weights


def _penalised(theta, beta, theta_source, xs, ys, penalty, anchor):
    """(objective, residuals (n,), weighted deviation anchor * (W - beta W_S)) of the penalised fit."""
    residuals = forward(theta, xs) - ys
    deviation = theta - beta * theta_source
    objective = float(residuals @ residuals) / ys.size
    objective += penalty * float(anchor @ (deviation * deviation)) / theta.size
    return objective, residuals, anchor * deviation


def _descend(theta_source, beta0, xs, ys, xs_check, ys_check, settings, anchor, monitor):
    """Gradient descent on [W, beta] from beta0 * W_S -> (theta, beta, curve dict)."""
    penalty, size = settings.penalty, theta_source.size
    theta, beta = beta0 * theta_source, float(beta0)
    objective, residuals, deviation = _penalised(theta, beta, theta_source, xs, ys, penalty, anchor)

    def monitored(current_theta, current_objective):
        if xs_check is None:
            return current_objective
        return float(np.mean((forward(current_theta, xs_check) - ys_check) ** 2))

    best_value = monitored(theta, objective)
    best_theta, best_beta, since_best = theta, beta, 0
    curve = {"train_mse": [float(residuals @ residuals) / ys.size], "objective": [objective],
             "beta": [beta], "check_mse": [best_value] if xs_check is not None else []}
    step = settings.learning_rate
    stop = "maximum epochs reached"
    for epoch in range(settings.epochs):
        grad_theta = (2.0 / ys.size) * (jacobian(theta, xs).T @ residuals)
        grad_theta += (2.0 * penalty / size) * deviation
        grad_beta = -(2.0 * penalty / size) * float(deviation @ theta_source)
        # Backtracking keeps every step a descent step: a fixed rate of 0.1 diverges when
        # the curvature of the MSE exceeds 2 / 0.1 = 20, which a 45-weight net easily has.
        for _ in range(MAX_STEP_HALVINGS):
            trial_theta, trial_beta = theta - step * grad_theta, beta - step * grad_beta
            trial = _penalised(trial_theta, trial_beta, theta_source, xs, ys, penalty, anchor)
            if trial[0] < objective:
                break
            step *= 0.5
        else:
            stop = "no descent step left (converged)"
            break
        theta, beta = trial_theta, trial_beta
        objective, residuals, deviation = trial
        step = min(2.0 * step, settings.learning_rate)
        value = monitored(theta, objective)
        curve["train_mse"].append(float(residuals @ residuals) / ys.size)
        curve["objective"].append(objective)
        curve["beta"].append(beta)
        if xs_check is not None:
            curve["check_mse"].append(value)
        if value < best_value * (1.0 - MIN_RELATIVE_IMPROVEMENT):
            best_value, best_theta, best_beta, since_best = value, theta, beta, 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                stop = f"no improvement for {settings.patience} epochs"
                break
        monitor.set_progress(100.0 * (epoch + 1) / settings.epochs)
        monitor.check_cancelled()
    monitor.set_progress(100.0)
    if xs_check is None:
        # Without a hold-out, the last accepted step has the lowest objective.
        best_theta, best_beta = theta, beta
    curve["stop"] = stop
    return best_theta, best_beta, curve


def _levenberg_marquardt(theta_source, beta0, xs, ys, settings, anchor, monitor):
    """LM on [W, beta] with residuals [f(W) - y, sqrt(n * lambda * anchor / n_params) (W - beta W_S)]."""
    size, count = theta_source.size, ys.size
    weight = np.sqrt(count * settings.penalty * anchor / size)

    def residual_fn(params):
        theta, beta = params[:-1], params[-1]
        return np.concatenate([forward(theta, xs) - ys, weight * (theta - beta * theta_source)])

    def jacobian_fn(params):
        jac = np.zeros((count + size, size + 1))
        jac[:count, :size] = jacobian(params[:-1], xs)
        jac[count:, :size] = np.diag(weight)
        jac[count:, size] = -weight * theta_source
        return jac

    curve = {"train_mse": [], "beta": []}

    def record(params):
        curve["train_mse"].append(float(np.mean((forward(params[:-1], xs) - ys) ** 2)))
        curve["beta"].append(float(params[-1]))

    start = np.append(beta0 * theta_source, beta0)
    result = levenberg_marquardt(residual_fn, jacobian_fn, start, perf_divisor=float(count),
                                 epochs=settings.epochs, goal=0.0, monitor=monitor,
                                 on_epoch=record)
    curve.update(objective=result.perf, check_mse=[], stop=result.stop_reason)
    return result.x[:-1], float(result.x[-1]), curve


def transfer_member(theta_source, xs, ys, settings, rng, monitor=NULL_MONITOR):
    """Transfer one source network theta_source (n_params,) to scaled target xs (n, L), ys (n,).

    Returns (theta (n_params,), beta, beta0, grid MSE list, curve dict). The curve holds, per
    epoch from the start at beta0 * W_S: "objective" (penalised), "train_mse", "beta" and
    "check_mse" (internal hold-out, empty without one); plus "grid_mse", "fit_samples" and
    "stop" (why step 2 ended).
    """
    theta_source = np.asarray(theta_source, dtype=float)
    fit_rows = np.arange(ys.size)
    xs_check = ys_check = None
    if settings.method == "gd" and settings.validation_fraction > 0:
        held = int(round(settings.validation_fraction * ys.size))
        held = min(max(held, 1), ys.size - 2)
        if held >= 1:
            order = rng.permutation(ys.size)
            fit_rows = np.sort(order[held:])
            xs_check, ys_check = xs[np.sort(order[:held])], ys[np.sort(order[:held])]
    xs_fit, ys_fit = xs[fit_rows], ys[fit_rows]
    errors = grid_errors(theta_source, xs_fit, ys_fit, settings.beta_grid)
    beta0 = float(settings.beta_grid[int(np.argmin(errors))])
    hidden = (theta_source.size - 1) // (xs.shape[1] + 2)
    anchor = anchor_weights(theta_source.size, hidden, settings.output_anchor)
    if settings.method == "lm":
        theta, beta, curve = _levenberg_marquardt(theta_source, beta0, xs_fit, ys_fit, settings,
                                                  anchor, monitor)
    else:
        theta, beta, curve = _descend(theta_source, beta0, xs_fit, ys_fit, xs_check, ys_check,
                                      settings, anchor, monitor)
    curve["grid_mse"] = [float(value) for value in errors]
    curve["fit_samples"] = int(ys_fit.size)
    return theta, beta, beta0, curve["grid_mse"], curve


def outside_source_ranges(source, x, target):
    """Which factors and samples of target x (n, L), target (n,) lie outside the source scaling."""
    outside = (x < source.x_min) | (x > source.x_max)
    target_outside = (target < source.y_min) | (target > source.y_max)
    return {
        "factors": [name for name, flag in zip(source.factor_names, outside.any(axis=0)) if flag],
        "samples": [int(index) for index in np.flatnonzero(outside.any(axis=1))],
        "target_samples": [int(index) for index in np.flatnonzero(target_outside)],
    }


def transferred_factor_ranges(source, x):
    """{factor: [low, high]} of a transferred model: the union of the source model's ranges and
    those of the target samples x (n, L). The network was shaped by the source samples and fitted
    to the target samples, so it extrapolates only outside both."""
    return {name: [min(source.factor_ranges[name][0], float(low)), max(source.factor_ranges[name][1], float(high))]
            for name, low, high in zip(source.factor_names, x.min(axis=0), x.max(axis=0))}


def transfer(source, x_train, y_train, settings=None, rng=None, monitor=NULL_MONITOR, metal=None):
    """Tr-GA-BP: adapt source (Model) to target samples x_train (n, L), y_train (n,) in mg/kg.

    x_train columns follow source.factor_names. Returns (transferred Model, curves: one dict
    per member). provenance["source_sha256"] is left None for the caller to fill in.
    """
    settings = settings or TransferSettings()
    settings.validate()
    x, y = check_training_data(x_train, y_train, source.factor_names, source.log_target)
    target = np.log(y) if source.log_target else y
    xs = minmax_apply(x, source.x_min, source.x_max)
    ys = minmax_apply(target, source.y_min, source.y_max)
    if source.y_min == source.y_max:
        raise SoilMetalError("The source model was trained on samples that all had the same "
                             "content, so it cannot be transferred. Train the source model on "
                             "varied samples first.")

    outside = outside_source_ranges(source, x, target)
    if outside["samples"] or outside["target_samples"]:
        monitor.warning(
            f"{len(outside['samples'])} of {y.size} target samples have factor values outside "
            f"the source model's training range ({', '.join(outside['factors']) or 'none'}) "
            f"and {len(outside['target_samples'])} have contents outside it; the transferred "
            "model extrapolates the source network there.")

    rng = rng if rng is not None else np.random.default_rng(settings.seed)
    members, betas, beta0s, grids, curves = [], [], [], [], []
    generators = member_generators(rng, source.ensemble_size)
    for index, (theta_source, member_rng) in enumerate(zip(source.members, generators)):
        monitor.check_cancelled()
        share = 100.0 / source.ensemble_size
        theta, beta, beta0, grid, curve = transfer_member(
            theta_source, xs, ys, settings, member_rng,
            monitor.child(index * share, (index + 1) * share))
        members.append(theta)
        betas.append(beta)
        beta0s.append(beta0)
        grids.append(grid)
        curves.append(curve)
        monitor.info(f"member {index + 1}/{source.ensemble_size}: beta0 {beta0:g}, "
                     f"beta {beta:.4f} ({curve['stop']})")

    factor_ranges = transferred_factor_ranges(source, x)
    provenance = {
        "source_sha256": None,
        "source_method": source.method,
        "source_metal": source.metal,
        "beta": betas,
        "beta0": beta0s,
        "beta_grid": [float(value) for value in settings.beta_grid],
        "grid_mse": grids,
        "method": settings.method,
        "penalty": settings.penalty,
        "output_anchor": settings.output_anchor,
        "samples_used": int(y.size),
        "outside_source_range": outside,
    }
    model = Model(factor_names=list(source.factor_names), x_min=source.x_min,
                  x_max=source.x_max, y_min=source.y_min, y_max=source.y_max, members=members,
                  hidden=source.hidden, log_target=source.log_target,
                  metal=source.metal if metal is None else metal, method="Tr-GA-BP",
                  seed=settings.seed,
                  settings={"transfer": asdict(settings), "source": source.settings},
                  factor_ranges=factor_ranges, provenance=provenance, curves=curves)
    model.training_metrics = regression_metrics(y, model.predict(x)[0])
    return model, curves


def source_gabp_settings(source, ensemble, seed, monitor=NULL_MONITOR):
    """GA-BP settings of the source model (for the from-scratch baseline), with ensemble and seed."""
    settings = source.settings if isinstance(source.settings, dict) else {}
    # A transferred source keeps its own source's GA-BP settings under "source".
    while isinstance(settings.get("source"), dict):
        settings = settings["source"]
    known = {item.name for item in fields(GABPSettings)}
    values = {key: value for key, value in settings.items() if key in known}
    values.update(ensemble=int(ensemble), seed=int(seed), log_target=bool(source.log_target))
    try:
        result = GABPSettings(**values)
        result.validate()
        return result
    except (TypeError, ValueError, SoilMetalError):
        monitor.warning("The source model file does not record usable GA-BP settings; the "
                        "from-scratch GA-BP uses the defaults (Table 4 of the paper).")
        return GABPSettings(ensemble=int(ensemble), seed=int(seed),
                            log_target=bool(source.log_target), hidden=source.hidden)
