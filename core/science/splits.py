"""Seeded hold-out splits of the samples: traingabp's validation share, transfergabp's retraining
samples then validation share of the rest (the k-fold CV splitters are in core.cv).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import SoilMetalError
from .gabp import MIN_TRAINABLE_SAMPLES


MIN_VALIDATION_SAMPLES = 2


# Independent random streams derived from the one user seed: the split must not change
# when the GA settings change, and the training stream is exactly default_rng(seed), so
# train_gabp on the recorded training samples with the recorded settings rebuilds the model.
SPLIT_STREAM = 7001


@dataclass
class Split:
    """Row indices (sorted) of the samples used for training, validation and neither."""

    train: np.ndarray
    validation: np.ndarray
    unused: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def labels(self, n):
        """Split name of every sample (n,): 'train', 'validation' or 'unused'."""
        labels = np.array(["unused"] * n, dtype=object)
        labels[self.train] = "train"
        labels[self.validation] = "validation"
        return labels


def _rounded_count(fraction, count):
    """round(fraction * count), halves up (Python's round would go to even)."""
    return int(math.floor(fraction * count + 0.5))


def split_samples(n, validation_fraction, rng):
    """Seeded hold-out of n samples: validation_fraction of them (at least 1 when > 0) -> Split."""
    if not 0.0 <= validation_fraction < 1.0:
        raise SoilMetalError(f"VALIDATION_FRACTION must be at least 0 and below 1, got "
                             f"{validation_fraction:g}. Use 0.2 to hold out 20 % of the samples.")
    n_validation = 0 if validation_fraction == 0 else max(1, _rounded_count(validation_fraction, n))
    n_train = n - n_validation
    if n_train < MIN_TRAINABLE_SAMPLES:
        raise SoilMetalError(
            f"Only {n} valid samples: holding out {n_validation} for validation leaves {n_train} "
            f"for training, and at least {MIN_TRAINABLE_SAMPLES} are needed. Lower "
            "VALIDATION_FRACTION (0 = no hold-out) or add sample points.")
    order = rng.permutation(n)
    return Split(train=np.sort(order[n_validation:]), validation=np.sort(order[:n_validation]))


def split_transfer_samples(n, train_samples, validation_fraction, rng, dropped_text=""):
    """Seeded pick of train_samples of n target samples for retraining, then
    validation_fraction of the rest (at least MIN_VALIDATION_SAMPLES when > 0) -> Split."""
    if train_samples < MIN_TRAINABLE_SAMPLES:
        raise SoilMetalError(f"TRAIN_SAMPLES is {train_samples}; at least "
                             f"{MIN_TRAINABLE_SAMPLES} target samples are needed for retraining.")
    if not 0.0 <= validation_fraction <= 1.0:
        raise SoilMetalError(f"VALIDATION_FRACTION must be between 0 and 1, got "
                             f"{validation_fraction:g}.")
    needed_validation = MIN_VALIDATION_SAMPLES if validation_fraction > 0 else 0
    if n < train_samples + needed_validation:
        most = n - needed_validation
        advice = (f"set TRAIN_SAMPLES to at most {most}" if most >= MIN_TRAINABLE_SAMPLES
                  else "add target sample points")
        raise SoilMetalError(
            f"Only {n} valid target samples{dropped_text}, but TRAIN_SAMPLES = {train_samples} "
            f"needs at least {train_samples + needed_validation} ({train_samples} for retraining"
            + (f" plus at least {needed_validation} for validation" if needed_validation else "")
            + f"). Either {advice}, add target samples"
            + (", or set VALIDATION_FRACTION = 0 (no validation)." if needed_validation else "."))
    rest = n - train_samples
    n_validation = 0
    if validation_fraction > 0:
        n_validation = min(rest, max(MIN_VALIDATION_SAMPLES,
                                     _rounded_count(validation_fraction, rest)))
    order = rng.permutation(n)
    return Split(train=np.sort(order[:train_samples]),
                 validation=np.sort(order[train_samples:train_samples + n_validation]),
                 unused=np.sort(order[train_samples + n_validation:]))
