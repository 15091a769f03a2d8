"""Regression kriging on real data: GA-BP on the Meuse samples (copper, lead; AHN terrain factors
and distance to the river, as bench/real_data_meuse.py builds them), with and without ordinary
kriging of its out-of-fold residuals. Prints markdown tables and writes the README figures.

(1) CV of model + kriged residuals. For each seed, random or spatial (traingabp's k-means
    clusters, core.cv) 10-fold CV of GA-BP (ENSEMBLE 5,
    LOG_TARGET: residuals on the log scale, as the heavy-tailed contents need): out-of-fold
    predictions, then core.residual_kriging.regression_kriging_cv (the variogram refit per
    fold on the fold's training residuals, 16 neighbours). MLR on the same factors (log
    target) is the reference trend. Medians over the seeds.
(2) Transfer with 16 target samples (north half = source, south half = target, as in
    real_data_meuse.py): a source GA-BP model on the whole north half, whose 10-fold
    out-of-fold residuals give the source variogram; Tr-GA-BP on 16 target samples, whose
    leave-one-out residuals (transfer refit without each sample) are kriged onto every other
    target sample. The variogram is either fitted on those 16 residuals ("target") or the
    source variogram with its sill rescaled to their variance ("source-rescaled"). RMSE on the
    other target samples, against the transferred model alone.

Usage: /usr/bin/python3 bench/real_data_meuse_kriging.py [--seeds 5] [--figures docs/images]
"""

import argparse
import pathlib
import sys
import time

BENCH = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import numpy as np  # noqa: E402

from core.science.cv_gabp import fold_labels  # noqa: E402
from core.science.gabp import GABPSettings, train_gabp  # noqa: E402
from core.science.metrics import rmse  # noqa: E402
from core.science.residual_kriging import fold_variogram, has_structure, regression_kriging_cv, residual_variogram  # noqa: E402
from core.science.kriging import krige  # noqa: E402
from core.science.transfer import TransferSettings, transfer  # noqa: E402
from core.science.variogram import empirical_variogram  # noqa: E402
from real_data_meuse import FACTORS, METALS, markdown_row, meuse_samples, median, subset, wins  # noqa: E402

FOLDS = 10
ENSEMBLE = 5
NEIGHBOURS = 16
TARGET_SAMPLES = 16


def random_folds(n, rng):
    """Fold label (n,) of a random FOLDS-fold split."""
    return rng.permutation(n) % FOLDS


def cv_folds(scheme, table, seed):
    """Fold labels (n,): random FOLDS-fold, or traingabp's spatial FOLDS-fold (k-means clusters
    of the sample locations held out whole, core.cv)."""
    if scheme == "random":
        return random_folds(len(table), np.random.default_rng((1701, seed)))
    return fold_labels("spatial", FOLDS, table.factors.to_numpy(float),
                       np.column_stack([table.x, table.y]), seed)[1]


def oof_gabp(x, y, labels, seed):
    """Out-of-fold GA-BP predictions (mg/kg), one model per fold."""
    settings = GABPSettings(seed=seed, ensemble=ENSEMBLE, log_target=True)
    prediction = np.empty(y.size)
    for fold in np.unique(labels):
        test = labels == fold
        model = train_gabp(x[~test], y[~test], FACTORS, settings)
        prediction[test] = model.predict(x[test])[0]
    return prediction


def oof_mlr(x, y, labels):
    """Out-of-fold least squares on log(content), back-transformed by exp (mg/kg)."""
    prediction = np.empty(y.size)
    for fold in np.unique(labels):
        test = labels == fold
        design = np.column_stack([np.ones((~test).sum()), x[~test]])
        coef = np.linalg.lstsq(design, np.log(y[~test]), rcond=None)[0]
        prediction[test] = np.exp(np.column_stack([np.ones(test.sum()), x[test]]) @ coef)
    return prediction


def rk_cv(table, prediction, labels):
    """regression_kriging_cv of out-of-fold predictions of a log-target model."""
    y = table.values
    residual = np.log(y) - np.log(prediction)
    return regression_kriging_cv(table.x, table.y, y, prediction, residual, labels, True,
                                 neighbours=NEIGHBOURS)


def p_text(p_value):
    """A permutation p-value as text; 99 permutations cannot give less than 0.01."""
    return "p <= 0.01" if p_value <= 0.01 else f"p = {p_value:.2f}"


def cv_table(prepared_by_metal, seeds, scheme="random"):
    """Table (1) and, per metal, the first seed's out-of-fold GA-BP residuals for the figure."""
    lines = ["| metal | CV | samples | GA-BP CV RMSE | GA-BP + kriged residuals | change | "
             "RK better in | MLR CV RMSE | MLR + kriged residuals | residual variogram (GA-BP) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    residuals = {}
    for metal, prepared in prepared_by_metal.items():
        table = prepared.table
        x = table.factors[FACTORS].to_numpy(float)
        rows = {key: [] for key in ("g", "g_rk", "m", "m_rk")}
        for seed in seeds:
            labels = cv_folds(scheme, table, seed)
            prediction = oof_gabp(x, table.values, labels, seed)
            gabp = rk_cv(table, prediction, labels)
            mlr = rk_cv(table, oof_mlr(x, table.values, labels), labels)
            rows["g"].append(gabp.model_metrics["RMSE"])
            rows["g_rk"].append(gabp.metrics["RMSE"])
            rows["m"].append(mlr.model_metrics["RMSE"])
            rows["m_rk"].append(mlr.metrics["RMSE"])
            if metal not in residuals:
                residuals[metal] = np.log(table.values) - np.log(prediction)
        vgm, _, p_value = residual_variogram(table.x, table.y, residuals[metal])
        change = 100 * (median(rows["g_rk"]) - median(rows["g"])) / median(rows["g"])
        lines.append(
            f"| {METALS[metal]} | {scheme} | {len(table)} | {median(rows['g']):.1f} | {median(rows['g_rk']):.1f} | "
            f"{change:+.0f} % | {wins(rows['g_rk'], rows['g'], seeds)} seeds | {median(rows['m']):.1f} | "
            f"{median(rows['m_rk']):.1f} | nugget/sill {vgm.nugget_ratio:.2f}, range "
            f"{vgm.range:.0f} m, {p_text(p_value)} |")
    return "\n".join(lines), residuals


def transfer_table(prepared_by_metal, seeds):
    """Table (2): variogram fitted on 16 target residuals vs the source's, rescaled."""
    lines = ["| metal | Tr-GA-BP alone | + kriging, target variogram | + kriging, source "
             "variogram rescaled | target variogram fitted / with structure | "
             "rescaled better than target in |",
             "|---|---|---|---|---|---|"]
    for metal, prepared in prepared_by_metal.items():
        table = prepared.table
        north = table.y >= np.median(table.y)
        source, target = subset(prepared, north).table, subset(prepared, ~north).table
        xs = source.factors[FACTORS].to_numpy(float)
        xt = target.factors[FACTORS].to_numpy(float)
        rows = {"alone": [], "target": [], "rescaled": []}
        fitted = structured = 0
        for seed in seeds:
            settings = GABPSettings(seed=seed, ensemble=ENSEMBLE, log_target=True)
            labels = random_folds(len(source), np.random.default_rng((1702, seed)))
            src_residual = np.log(source.values) - np.log(oof_gabp(xs, source.values, labels, seed))
            source_vgm, _, _ = residual_variogram(source.x, source.y, src_residual)
            source_model = train_gabp(xs, source.values, FACTORS, settings)
            rng = np.random.default_rng((1703, seed))
            train = np.zeros(len(target), dtype=bool)
            train[rng.choice(len(target), TARGET_SAMPLES, replace=False)] = True
            tsettings = TransferSettings(seed=seed)
            xtr, ytr = xt[train], target.values[train]
            model, _ = transfer(source_model, xtr, ytr, tsettings, np.random.default_rng(seed))
            loo = np.empty(TARGET_SAMPLES)
            for i in range(TARGET_SAMPLES):
                keep = np.arange(TARGET_SAMPLES) != i
                fold_model, _ = transfer(source_model, xtr[keep], ytr[keep], tsettings,
                                         np.random.default_rng(seed))
                loo[i] = fold_model.predict(xtr[i:i + 1])[0][0]
            residual = np.log(ytr) - np.log(loo)
            base = model.predict(xt[~train])[0]
            observed = target.values[~train]
            rows["alone"].append(rmse(observed, base))
            for name in ("target", "rescaled"):
                vgm, _, p_value = fold_variogram(target.x[train], target.y[train], residual,
                                                 source=source_vgm,
                                                 variogram_source="target" if name == "target"
                                                 else "source-rescaled")
                if name == "target" and vgm is not None:
                    fitted += 1
                    structured += has_structure(vgm, p_value)
                if not has_structure(vgm, p_value):
                    rows[name].append(rows["alone"][-1])
                    continue
                kriged, _ = krige(target.x[train], target.y[train], residual, target.x[~train],
                                  target.y[~train], vgm, NEIGHBOURS)
                rows[name].append(rmse(observed, base * np.exp(kriged)))
        medians = [f"{median(rows[key]):.1f}" for key in ("alone", "target", "rescaled")]
        lines.append(markdown_row(METALS[metal], *medians, f"{fitted} / {structured} of {len(seeds)}",
                                  wins(rows["rescaled"], rows["target"], seeds) + " seeds"))
    return "\n".join(lines)


def variogram_figure(prepared_by_metal, residuals, path):
    """Empirical variograms of the GA-BP out-of-fold log residuals with the fitted models."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(residuals), figsize=(4.2 * len(residuals), 3.4), dpi=110)
    for ax, (metal, residual) in zip(np.atleast_1d(axes), residuals.items()):
        table = prepared_by_metal[metal].table
        ev = empirical_variogram(table.x, table.y, residual)
        vgm, _, p_value = residual_variogram(table.x, table.y, residual)
        h = np.linspace(0, ev.cutoff, 200)
        ax.plot(ev.dist, ev.gamma, "o", color="#2b6f9e", label="empirical (gstat bins)")
        ax.plot(h[1:], vgm.semivariance(h[1:]), "-", color="#c0392b",
                label=f"spherical: nugget {vgm.nugget:.3f}\npsill {vgm.psill:.3f}, range {vgm.range:.0f} m")
        ax.set_title(f"{METALS[metal]}: GA-BP out-of-fold residuals (log), {p_text(p_value)}",
                     fontsize=9)
        ax.set_xlabel("distance (m)")
        ax.set_ylabel("semivariance")
        ax.set_ylim(0, None)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    """Build the factors, run both comparisons, print the tables, write the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--figures", default="", help="folder for meuse_rk_variograms.png")
    parser.add_argument("--schemes", default="random,spatial", help="CV schemes of table (1)")
    parser.add_argument("--no-transfer", action="store_true", help="skip table (2)")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    start = time.perf_counter()
    _, prepared = meuse_samples("soilmetal_meuse_rk_")
    print(f"Meuse: {len(prepared['copper'].table)} samples, factors {', '.join(FACTORS)}, "
          f"{FOLDS}-fold CV ({args.schemes}), GA-BP ENSEMBLE {ENSEMBLE} with LOG_TARGET, "
          f"{NEIGHBOURS} kriging neighbours, seeds {len(seeds)}. RMSE in mg/kg, medians over seeds.\n")
    print("### CV RMSE of the model and of model + kriged residuals\n")
    residuals = None
    for scheme in args.schemes.split(","):
        table, found = cv_table(prepared, seeds, scheme)
        residuals = residuals or found
        print(table + "\n", flush=True)
    if not args.no_transfer:
        print(f"### Transfer, {TARGET_SAMPLES} target samples: which variogram to krige with\n")
        print(transfer_table(prepared, seeds))
    if args.figures:
        folder = pathlib.Path(args.figures)
        folder.mkdir(parents=True, exist_ok=True)
        variogram_figure(prepared, residuals, folder / "meuse_rk_variograms.png")
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
