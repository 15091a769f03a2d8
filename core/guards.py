"""Refuse instead of guessing: checks that stop a run before its expensive part when the input
cannot give a trustworthy result, each with a message that says what was wrong and what to do."""

import math

import numpy as np

from .errors import SoilMetalError

# Random seeds: QGIS integer parameters are 32-bit.
MAX_SEED = 2 ** 31 - 1

# A grid of candidate values (BETA_GRID) is evaluated value by value; beyond this many values
# the parameter check alone takes minutes and the report's figure is unreadable. 0:1:0.0001
# (10,001 values) is already far finer than any difference a few dozen samples can resolve.
MAX_GRID_VALUES = 10001

# Fewer training samples than half the network's weights: each weight is set by less than two
# samples, the network can fit the training samples whatever the factors say, and its hold-out
# numbers come from a handful of samples. The paper's setting (4 hidden neurons, 7 factors:
# 37 weights, 35 training samples) passes; 20 factors on 3 samples (89 weights) does not.
SAMPLES_PER_WEIGHT = 0.5
# The fewest training samples trusted for any network, however few its weights (below it,
# only ALLOW_FEW_SAMPLES trains; gabp.MIN_TRAINABLE_SAMPLES is the floor nothing overrides).
MIN_TRUSTED_TRAINING_SAMPLES = 5

# The fewest samples a statistic of the samples is computed on: with 2, a correlation is +-1,
# both values are the quartiles (and |z| is 1 for both), and a variogram has a single pair.
MIN_STATISTIC_SAMPLES = 3


def grid_count(start, stop, step, name="BETA_GRID"):
    """Number of values of a start:stop:step grid (stop included), or a SoilMetalError when the
    grid is not finite, runs backwards, or has more than MAX_GRID_VALUES values."""
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise SoilMetalError(f"{name}: start, stop and step must be finite numbers (got "
                             f"{start:g}:{stop:g}:{step:g}). Write it as start:stop:step, e.g. 0:1:0.1.")
    if step <= 0 or stop < start:
        raise SoilMetalError(f"{name}: in start:stop:step the step must be above 0 and stop at least "
                             f"start (got {start:g}:{stop:g}:{step:g}), e.g. 0:1:0.1.")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_GRID_VALUES:
        raise SoilMetalError(f"{name}: {start:g}:{stop:g}:{step:g} has {count:,} values; at most "
                             f"{MAX_GRID_VALUES:,} are allowed. Use a larger step or a shorter range "
                             "(e.g. 0:2:0.01); the optimisation refines beta after the grid anyway.")
    return count


def check_list_size(values, name="BETA_GRID"):
    """Refuse a comma-separated grid with more than MAX_GRID_VALUES values or non-finite ones."""
    if len(values) > MAX_GRID_VALUES:
        raise SoilMetalError(f"{name}: {len(values):,} values given; at most {MAX_GRID_VALUES:,} "
                             "are allowed.")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise SoilMetalError(f"{name}: every value must be a finite number (got {bad[0]}).")


def duplicates(names):
    """The names that occur more than once, in first-occurrence order."""
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def check_unique_names(names, parameter="FACTOR_NAMES"):
    """Refuse a factor list that names a factor twice (it would be two inputs of one network)."""
    repeated = duplicates(names)
    if repeated:
        raise SoilMetalError(f"{parameter}: {', '.join(repeated)} given more than once. Name each "
                             "factor once.")


def minimum_training_samples(n_weights):
    """The fewest training samples trusted for a network with n_weights weights and thresholds."""
    return max(MIN_TRUSTED_TRAINING_SAMPLES, math.ceil(SAMPLES_PER_WEIGHT * n_weights))


def check_training_samples(n_train, n_weights, allow=False, warn=None, override="ALLOW_FEW_SAMPLES"):
    """Refuse fewer training samples than minimum_training_samples(n_weights) unless allowed
    (then warn). The message gives the numbers and the ways out."""
    needed = minimum_training_samples(n_weights)
    if n_train >= needed:
        return needed
    message = (f"{n_train} training samples for a network with {n_weights} weights and thresholds: "
               f"at least {needed} are needed (half the weights, and at least "
               f"{MIN_TRUSTED_TRAINING_SAMPLES}), or the network can fit any sample values.")
    if allow:
        if warn is not None:
            warn(message + f" {override} is set: trained anyway (not recommended).")
        return needed
    raise SoilMetalError(message + " Use fewer factors (FACTOR_NAMES, e.g. from 'Select factors') "
                         "or fewer HIDDEN neurons, add samples, lower VALIDATION_FRACTION, or set "
                         f"{override} (not recommended).")


def check_factors_vary(frame, warn=None):
    """Refuse factors that are all constant at the samples (nothing to learn from); warn about
    the constant ones among varying factors. frame: DataFrame (samples x factors)."""
    values = np.asarray(frame, dtype=float)
    if values.shape[0] == 0:
        return
    constant = [name for name, column in zip(frame.columns, values.T)
                if np.nanmax(column) == np.nanmin(column)]
    if constant and len(constant) == values.shape[1]:
        raise SoilMetalError(f"Every factor ({', '.join(constant)}) has the same value at every "
                             "sample: the model has nothing to learn from. Choose factors that "
                             "vary across the samples (see 'Select factors').")
    if constant and warn is not None:
        warn(f"Factor(s) {', '.join(constant)} have the same value at every sample and cannot "
             "inform the model; leave them out of FACTOR_NAMES.")
