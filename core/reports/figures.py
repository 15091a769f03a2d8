"""The training and transfer curves of the model reports.
"""

import numpy as np

from .html import new_figure, curves
from .common import scaled_rmse, target_unit


def ga_figure(model):
    """GA best and population-mean training RMSE per generation, per member."""
    series = {}
    for index, curve in enumerate(model.curves, start=1):
        suffix = f" (network {index})" if model.ensemble_size > 1 else ""
        series[f"best{suffix}"] = scaled_rmse(curve.get("ga_best_mse", []), model)
        if model.ensemble_size <= 3:
            series[f"population mean{suffix}"] = scaled_rmse(curve.get("ga_mean_mse", []), model)
    if model.ensemble_size > 3:
        means = [curve.get("ga_mean_mse", []) for curve in model.curves]
        length = min(len(m) for m in means)
        series["population mean (average over networks)"] = scaled_rmse(
            np.mean([m[:length] for m in means], axis=0), model)
    return curves(series, "generation (0 = random initial population)",
                  f"training RMSE ({target_unit(model)})", logy=True,
                  title="Genetic algorithm: fitness per generation")


def lm_figure(model):
    """Levenberg-Marquardt training RMSE per epoch for every member, with the goal line."""
    series, goal = {}, None
    for index, curve in enumerate(model.curves, start=1):
        series[f"network {index}"] = scaled_rmse(curve.get("lm_mse", []), model)
        goal = curve.get("lm_goal_mse", goal)
    if goal is not None and goal > 0:
        length = max(len(values) for values in series.values())
        series["goal (LM stops here)"] = np.full(length, float(scaled_rmse(goal, model)))
    return curves(series, "epoch (0 = network from the GA)",
                  f"training RMSE ({target_unit(model)})", logy=True,
                  title="Levenberg-Marquardt: error per epoch")


def beta_grid_figure(grid, grid_mse, beta0s, betas, model):
    """Training RMSE of beta * W_S for every grid beta, per member, with beta0 and the final beta."""
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    for index, errors in enumerate(grid_mse):
        rmse = scaled_rmse(errors, model)
        label = f"network {index + 1}" if len(grid_mse) > 1 else "beta * W_S"
        line = ax.plot(grid, rmse, marker="o", markersize=3, label=label)[0]
        chosen = int(np.argmin(errors))
        ax.plot([grid[chosen]], [rmse[chosen]], marker="*", markersize=12,
                color=line.get_color(), linestyle="none")
    median_beta = float(np.median(betas))
    ax.axvline(median_beta, color="0.3", linestyle="--", linewidth=1,
               label=f"final beta (median {median_beta:.3f})")
    ax.set_xlabel("beta (W_T = beta * W_S)")
    ax.set_ylabel(f"RMSE on the target training samples ({target_unit(model)})")
    ax.set_title(f"Grid search for beta0 (star = chosen, mean beta0 {np.mean(beta0s):.2f})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def transfer_curve_figure(model):
    """Tr-GA-BP training RMSE and beta per epoch of step 2, per member (two panels)."""
    fig = new_figure(6.0, 5.5)
    top = fig.add_subplot(2, 1, 1)
    bottom = fig.add_subplot(2, 1, 2, sharex=top)
    for index, curve in enumerate(model.curves, start=1):
        label = f"network {index}" if model.ensemble_size > 1 else "Tr-GA-BP"
        rmse = scaled_rmse(curve.get("train_mse", []), model)
        top.plot(np.arange(rmse.size), rmse, label=label)
        beta = np.asarray(curve.get("beta", []), dtype=float)
        bottom.plot(np.arange(beta.size), beta, label=label)
    top.set_yscale("log")
    top.set_ylabel(f"training RMSE ({target_unit(model)})")
    top.set_title("Retraining on the target samples (epoch 0 = beta0 * W_S)")
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("beta")
    bottom.set_xlabel("epoch")
    bottom.grid(True, alpha=0.3)
    if model.ensemble_size > 1:
        top.legend(fontsize="small")
    return fig
