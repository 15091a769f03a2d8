"""Figures of every report, drawn on ``matplotlib.figure.Figure`` with its own Agg canvas, never
through pyplot: no global backend or figure state leaks into QGIS and nothing needs a display.

The generic plots (predicted vs measured, curves, heatmap, histogram, bars, map thumbnail)
come first, then the training and transfer curves of the model reports.
"""

import math

import numpy as np

from ..text import format_number
from .common import scaled_rmse, target_unit

# The smallest text a figure draws (points at the reports' 100 dpi: about 11 px on screen).
READABLE_POINTS = 8.0


def quantity_label(name, unit="mg/kg"):
    """The one way a mapped quantity is named in titles and axes: 'Cu' -> 'Cu (mg/kg)'."""
    text = str(name).strip()
    return f"{text} ({unit})" if unit and not text.endswith(f"({unit})") else text


def plain_number_formatter():
    """A matplotlib tick formatter writing ticks as format_number does (9, 20, 0.5; never
    9x10^0): use it on any axis, log or linear."""
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda value, _position: format_number(value))


def plain_log_axis(ax, which="y"):
    """Put an Axes' x or y axis on a log scale with plain tick labels at 1, 2, 5 x 10^k (and
    every integer multiple when the data span less than a decade), no minor labels."""
    from matplotlib.ticker import LogLocator, NullFormatter
    getattr(ax, f"set_{which}scale")("log")
    axis = ax.yaxis if which == "y" else ax.xaxis
    low, high = (ax.get_ylim() if which == "y" else ax.get_xlim())
    narrow = low > 0 and high / low < 10
    subs = tuple(range(1, 10)) if narrow else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10.0, subs=subs))
    axis.set_major_formatter(plain_number_formatter())
    axis.set_minor_formatter(NullFormatter())


def new_figure(width=6.0, height=4.5):
    """A pyplot-free matplotlib Figure with its own Agg canvas (no global backend is set)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def predicted_vs_measured(sets, unit="mg/kg", title=None):
    """Scatter of predicted vs measured for sets {name: (obs (n,), pred (n,))} with the 1:1 line."""
    fig = new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    low, high = math.inf, -math.inf
    for name, (observed, predicted) in sets.items():
        observed = np.asarray(observed, dtype=float).ravel()
        predicted = np.asarray(predicted, dtype=float).ravel()
        keep = np.isfinite(observed) & np.isfinite(predicted)
        observed, predicted = observed[keep], predicted[keep]
        if observed.size == 0:
            continue
        rmse = float(np.sqrt(np.mean((predicted - observed) ** 2)))
        ax.scatter(observed, predicted, s=22, alpha=0.8,
                   label=f"{name} (n={observed.size}, RMSE {format_number(rmse)})")
        low = min(low, observed.min(), predicted.min())
        high = max(high, observed.max(), predicted.max())
    if math.isfinite(low):
        pad = 0.05 * (high - low) if high > low else 1.0
        line = [low - pad, high + pad]
        ax.plot(line, line, color="0.3", linestyle="--", linewidth=1, label="1:1")
        ax.set_xlim(line)
        ax.set_ylim(line)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"measured ({unit})" if unit else "measured")
    ax.set_ylabel(f"predicted ({unit})" if unit else "predicted")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def curves(series, xlabel, ylabel, logy=False, title=None, x_start=0):
    """Line plot of {name: sequence (m,)} against index + x_start (GA fitness, LM error, ...)."""
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    for name, values in series.items():
        values = np.asarray(values, dtype=float).ravel()
        x = np.arange(values.size) + x_start
        if logy:
            values = np.where(values > 0, values, np.nan)
        ax.plot(x, values, marker="o" if values.size <= 30 else None, markersize=3,
                label=str(name))
    if logy:
        plain_log_axis(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize="small")
    return fig


def correlation_matrix_figure(matrix, title=None):
    """Heatmap of a square correlation DataFrame (names as index/columns), values annotated."""
    values = np.asarray(matrix, dtype=float)
    names = [str(c) for c in matrix.columns]
    k = len(names)
    # Cells big enough for "-0.52" at READABLE_POINTS: the text stays readable at 100 %.
    size = max(2.5 + 0.55 * k, 4.0)
    fig = new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticklabels(names)
    font = max(READABLE_POINTS, min(10.0, 120.0 / max(k, 1)))
    for i in range(k):
        for j in range(k):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=font,
                        color="white" if abs(values[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
    if title:
        ax.set_title(title)
    return fig


def histogram_figure(bin_edges, counts, class_breaks=(), xlabel="content (mg/kg)",
                     ylabel="pixels", title=None):
    """Bars of counts (m,) on bin_edges (m+1,) with dashed lines at the class breaks."""
    edges = np.asarray(bin_edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#5b8db8",
           edgecolor="white", linewidth=0.5)
    for position in class_breaks:
        ax.axvline(float(position), color="#b03a2e", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def bar_figure(labels, values, xlabel=None, ylabel=None, title=None, colours=None):
    """Bar chart of values (m,) with text labels (m,) and the values written on the bars;
    colours: one colour per bar (e.g. the map's class colours), default one blue."""
    labels = [str(label) for label in labels]
    values = np.asarray(values, dtype=float)
    fig = new_figure(max(4.0, 0.6 * len(labels) + 2.0), 4.0)
    ax = fig.add_subplot()
    positions = np.arange(len(labels))
    ax.bar(positions, values, color=list(colours) if colours is not None else "#5b8db8",
           edgecolor="0.3" if colours is not None else None, linewidth=0.5)
    for position, value in zip(positions, values):
        if np.isfinite(value):
            ax.annotate(format_number(value, 3), (position, value), xytext=(0, 2),
                        textcoords="offset points", ha="center",
                        va="bottom" if value >= 0 else "top", fontsize="small")
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 6 else 0,
                       ha="right" if len(labels) > 6 else "center")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def map_figure(values, breaks, colours, title=None, unit="mg/kg", extent=None):
    """A map thumbnail of a 2-D array (NaN = nodata, drawn transparent) in the classes `breaks`
    with one hex colour per class (open below the first and above the last break, as the
    map's .qml legend), a colour bar labelled at the breaks, north up."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    values = np.asarray(values, dtype=float)
    rows, cols = values.shape
    width = 6.0
    height = min(max(width * rows / max(cols, 1), 2.5), 7.0) + 0.6
    fig = new_figure(width + 1.4, height)
    ax = fig.add_subplot()
    cmap = ListedColormap(list(colours))
    cmap.set_bad((0, 0, 0, 0))
    norm = BoundaryNorm([float(b) for b in breaks], cmap.N, clip=True)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, extent=extent,
                      interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, shrink=0.85, ticks=[float(b) for b in breaks],
                       label=unit)
    bar.ax.yaxis.set_major_formatter(plain_number_formatter())
    ax.set_xticks([])
    ax.set_yticks([])
    ax.annotate("N", xy=(0.95, 0.97), xytext=(0.95, 0.86), xycoords="axes fraction",
                ha="center", va="center", fontsize=11, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "black"})
    if title:
        ax.set_title(title)
    return fig


# ---------------------------------------------------------------- model training curves

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
