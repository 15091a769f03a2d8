"""Area of applicability: the DI against a direct brute-force computation, the CAST threshold."""

import math

import numpy as np
import pytest

from core.science.aoa import ApplicabilityReference, permutation_importance, tukey_upper_whisker
from core.errors import SoilMetalError
from core.model_file import Model
from core.science.network import n_params, pack


def brute_force_di(train, folds, weights, new):
    """Independent DI: explicit loops over samples, R-style scale(), weights as given."""
    train = np.asarray(train, float)
    mean = train.mean(axis=0)
    sd = np.sqrt(((train - mean) ** 2).sum(axis=0) / (len(train) - 1))
    w = np.asarray(weights, float) / np.sum(weights)
    t = (train - mean) / sd * w
    q = (np.asarray(new, float) - mean) / sd * w
    n = len(t)
    pair = [math.dist(t[i], t[j]) for i in range(n) for j in range(n) if i != j]
    average = sum(pair) / len(pair)
    train_di = []
    for i in range(n):
        train_di.append(min(math.dist(t[i], t[j]) for j in range(n) if folds[j] != folds[i]) / average)
    new_di = [min(math.dist(p, s) for s in t) / average for p in q]
    return np.array(train_di), np.array(new_di)


def tukey_whisker_by_halves(values):
    """Upper whisker with Tukey's hinges as medians of the lower/upper halves (middle value in both)."""
    x = sorted(values)
    half = (len(x) + 1) // 2
    lower, upper = np.median(x[:half]), np.median(x[-half:])
    fence = upper + 1.5 * (upper - lower)
    return max(v for v in x if v <= fence)


def test_di_equals_brute_force():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(23, 3)) * [1.0, 10.0, 0.1] + [0, 100, 5]
    folds = rng.integers(0, 4, 23)
    weights = [0.5, 0.2, 1.3]
    new = rng.normal(size=(40, 3)) * [2.0, 20.0, 0.2] + [0, 100, 5]
    reference = ApplicabilityReference(train, folds, weights, ["A", "B", "C"])
    train_di, new_di = brute_force_di(train, folds, weights, new)
    np.testing.assert_allclose(reference.training_di, train_di, rtol=1e-10)
    pixels = new.T.astype(np.float32).astype(float)
    pixels[1, 5] = np.nan
    di = reference.dissimilarity(pixels)
    _, expected = brute_force_di(train, folds, weights, pixels.T)
    keep = np.arange(40) != 5
    np.testing.assert_allclose(di[keep], expected[keep], rtol=1e-10)
    assert np.isnan(di[5])
    assert reference.threshold == pytest.approx(tukey_whisker_by_halves(train_di))


@pytest.mark.parametrize("n", [5, 6, 7, 8, 20, 21])
def test_whisker_matches_tukey_hinges(n):
    rng = np.random.default_rng(n)
    values = np.concatenate([rng.exponential(1.0, n), [25.0]])
    assert tukey_upper_whisker(values) == pytest.approx(tukey_whisker_by_halves(values))
    assert tukey_upper_whisker(values) < 25.0


def test_constant_factor_is_left_out_and_all_zero_weights_become_equal():
    rng = np.random.default_rng(1)
    train = np.column_stack([rng.normal(size=12), np.full(12, 3.0), rng.normal(size=12)])
    folds = np.arange(12) % 3
    reference = ApplicabilityReference(train, folds, [0.0, 0.0, 0.0], ["A", "B", "C"])
    np.testing.assert_allclose(reference.weights, [0.5, 0.0, 0.5])
    train_di, _ = brute_force_di(train[:, [0, 2]], folds, [1, 1], train[:1, [0, 2]])
    np.testing.assert_allclose(reference.training_di, train_di, rtol=1e-10)
    with pytest.raises(SoilMetalError, match="two cross-validation folds"):
        ApplicabilityReference(train, np.zeros(12), [1, 1, 1], ["A", "B", "C"])


def test_permutation_importance_ignores_an_unused_factor():
    rng = np.random.default_rng(2)
    # One hidden neuron reading factor A only: B has no influence on the output.
    theta = pack(np.array([[1.5, 0.0]]), [0.1], [0.9], 0.0)
    model = Model(factor_names=["A", "B"], x_min=[0, 0], x_max=[1, 1], y_min=0, y_max=100,
                  members=[theta], hidden=1)
    x = rng.uniform(0, 1, (50, 2))
    observed = model.predict(x)[0] + rng.normal(0, 1, 50)
    importance = permutation_importance(model, x, observed, np.random.default_rng(0))
    assert importance[1] == 0.0 and importance[0] > 1.0


def test_model_without_samples_or_folds_is_refused_with_the_fix():
    model = Model(factor_names=["A"], x_min=[0], x_max=[1], y_min=0, y_max=1,
                  members=[np.zeros(n_params(1, 2))], hidden=2)
    with pytest.raises(SoilMetalError, match="written before soilmetal.*retrain it.*area of applicability"):
        ApplicabilityReference.from_model(model, np.random.default_rng(0))
    model.samples = {"factors": [[0.0], [1.0]], "observed": [1.0, 2.0]}
    with pytest.raises(SoilMetalError, match="without cross-validation.*CV = 2"):
        ApplicabilityReference.from_model(model, np.random.default_rng(0))
