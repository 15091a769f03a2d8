"""Training speed at the paper's setting; prints one line of JSON (figures in seconds).

- one GA-BP network: 44 samples, 9 factors, 9-4-1 net, GA 30 x 50, 50 LM epochs (goal 0, so
  all 50 epochs run: the worst case), and the same with the default (relative) goal;
- an ensemble of 5 networks, total and per member;
- a Tr-GA-BP transfer on 16 target samples (gradient descent, the default, and LM);
- GA-BP with spatial 5-fold cross-validation on the paper's setting (44 samples, ensemble 5):
  the final model plus one refit per fold, and the two baselines; and Tr-GA-BP of that
  ensemble to 44 target samples (16 retraining samples) with spatial 5-fold CV (Tr-GA-BP and
  GA-BP from scratch refit per fold).
Each figure is the median of --repeats runs.
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.science.cv_gabp import cross_validate_gabp  # noqa: E402
from core.science.cv_transfer import cross_validate_transfer, fit_transfer  # noqa: E402
from core.science.gabp import GABPSettings, train_gabp  # noqa: E402
from core.science.transfer import TransferSettings, transfer  # noqa: E402

FACTORS = [f"F{index}" for index in range(1, 10)]


def samples(count, shift, seed):
    """count samples of 9 factors with a smooth Cu-like content (mg/kg)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(count, len(FACTORS)))
    y = (45 + 12 * np.sin(3 * x[:, 0]) + 8 * x[:, 1] ** 2 - 6 * x[:, 2] * x[:, 3]
         + 4 * x[:, 4] + shift + rng.normal(0, 2, count))
    return x, y


def median_seconds(run, repeats):
    """Median wall time of run() over repeats calls (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    """Measure and print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    x, y = samples(44, 0.0, 1)
    x_target, y_target = samples(16, 5.0, 2)
    full_lm = GABPSettings(goal=0.0)
    ensemble = GABPSettings(goal=0.0, ensemble=5)
    source = train_gabp(x, y, FACTORS, GABPSettings())
    figures = {
        "gabp_one_network_50_lm_epochs_s": median_seconds(
            lambda: train_gabp(x, y, FACTORS, full_lm), repeats),
        "gabp_one_network_default_goal_s": median_seconds(
            lambda: train_gabp(x, y, FACTORS, GABPSettings()), repeats),
    }
    ensemble_seconds = median_seconds(lambda: train_gabp(x, y, FACTORS, ensemble), repeats)
    figures["gabp_ensemble_5_s"] = ensemble_seconds
    figures["gabp_ensemble_per_member_s"] = ensemble_seconds / 5
    figures["transfer_16_samples_gd_s"] = median_seconds(
        lambda: transfer(source, x_target, y_target, TransferSettings()), repeats)
    figures["transfer_16_samples_lm_s"] = median_seconds(
        lambda: transfer(source, x_target, y_target, TransferSettings(method="lm")), repeats)
    coordinates = np.random.default_rng(3).uniform(0, 5000, size=(44, 2))
    figures["gabp_ensemble_5_with_spatial_cv_5_folds_s"] = median_seconds(
        lambda: (train_gabp(x, y, FACTORS, GABPSettings(ensemble=5)),
                 cross_validate_gabp(x, y, coordinates, FACTORS, GABPSettings(ensemble=5),
                                     "spatial", 5)), repeats)
    source_5 = train_gabp(x, y, FACTORS, GABPSettings(ensemble=5))
    x_all, y_all = samples(44, 5.0, 4)
    figures["transfer_ensemble_5_with_spatial_cv_5_folds_s"] = median_seconds(
        lambda: (fit_transfer(source_5, x_all[:16], y_all[:16], TransferSettings(), 5),
                 cross_validate_transfer(source_5, x_all, y_all, coordinates, TransferSettings(),
                                         GABPSettings(ensemble=5), 16, 5, "spatial", 5)),
        repeats)
    print(json.dumps({key: round(value, 5) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
