"""GA-BP training: reproducibility, ensembles, the log target and input checks."""

import numpy as np
import pytest

from core.errors import Cancelled, SoilMetalError
from core.science.gabp import GABPSettings, train_gabp
from core.science.lm import STOP_GOAL
from core.science.metrics import regression_metrics
from core.model_file import model_to_bytes, save_model
from core.monitor import Monitor
from core.science.network import forward

NAMES = ["B2", "B4", "NDVI", "SLOPE"]


def samples(count=44, seed=0):
    """Cu-like contents (mg/kg) that depend smoothly on four factors, with noise."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(0.02, 0.2, count), rng.uniform(0.03, 0.3, count),
                         rng.uniform(-0.1, 0.8, count), rng.uniform(0, 25, count)])
    y = 40 + 60 * x[:, 1] - 20 * x[:, 2] ** 2 + 0.5 * x[:, 3] + rng.normal(0, 1.5, count)
    return x, y


def member_outputs_by_hand(model, x):
    """Each member's prediction in model target units, from the documented scaling formulas."""
    xs = 2 * (x - model.x_min) / (model.x_max - model.x_min) - 1
    return np.array([model.y_min + (forward(theta, xs) + 1) / 2 * (model.y_max - model.y_min)
                     for theta in model.members])


def test_same_seed_gives_byte_identical_model_files(tmp_path):
    x, y = samples()
    first = train_gabp(x, y, NAMES, GABPSettings(seed=7, ensemble=2), metal="Cu")
    second = train_gabp(x, y, NAMES, GABPSettings(seed=7, ensemble=2), metal="Cu")
    save_model(first, tmp_path / "a.json")
    save_model(second, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_different_seed_gives_a_different_model():
    x, y = samples()
    first = train_gabp(x, y, NAMES, GABPSettings(seed=1))
    second = train_gabp(x, y, NAMES, GABPSettings(seed=2))
    assert model_to_bytes(first) != model_to_bytes(second)
    assert not np.allclose(first.members[0], second.members[0])


def test_member_k_does_not_depend_on_the_ensemble_size():
    x, y = samples()
    single = train_gabp(x, y, NAMES, GABPSettings(seed=3, ensemble=1))
    triple = train_gabp(x, y, NAMES, GABPSettings(seed=3, ensemble=3))
    np.testing.assert_array_equal(single.members[0], triple.members[0])


def test_ensemble_mean_is_the_mean_of_members_and_spread_is_positive():
    x, y = samples()
    model = train_gabp(x, y, NAMES, GABPSettings(seed=4, ensemble=3))
    assert model.ensemble_size == 3 and len(model.curves) == 3
    by_hand = member_outputs_by_hand(model, x)
    mean, std = model.predict(x)
    np.testing.assert_allclose(mean, by_hand.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(std, by_hand.std(axis=0), rtol=1e-8, atol=1e-10)
    assert np.all(std > 0)
    np.testing.assert_allclose(model.predict_members(x), by_hand, rtol=1e-12)


def test_scaling_is_the_training_min_max():
    x, y = samples()
    model = train_gabp(x, y, NAMES, GABPSettings(seed=0, generations=2, epochs=2))
    np.testing.assert_array_equal(model.x_min, x.min(axis=0))
    np.testing.assert_array_equal(model.x_max, x.max(axis=0))
    assert (model.y_min, model.y_max) == (y.min(), y.max())
    assert model.factor_ranges["SLOPE"] == [x[:, 3].min(), x[:, 3].max()]


def test_log_target_back_transform_is_exp_of_the_mean_log():
    x, y = samples()
    model = train_gabp(x, y, NAMES, GABPSettings(seed=5, ensemble=3, log_target=True))
    assert model.log_target
    assert model.y_min == pytest.approx(np.log(y.min()))
    assert model.y_max == pytest.approx(np.log(y.max()))
    logs = member_outputs_by_hand(model, x)
    mean, std = model.predict(x)
    np.testing.assert_allclose(mean, np.exp(logs.mean(axis=0)), rtol=1e-10)
    np.testing.assert_allclose(std, np.exp(logs).std(axis=0), rtol=1e-8, atol=1e-10)
    assert np.all(mean > 0)
    with pytest.raises(SoilMetalError, match="above 0"):
        train_gabp(x, np.where(np.arange(y.size) == 3, 0.0, y), NAMES,
                   GABPSettings(log_target=True))


def test_training_metrics_and_curves():
    x, y = samples()
    settings = GABPSettings(seed=6, goal=0.05)
    model = train_gabp(x, y, NAMES, settings)
    expected = regression_metrics(y, model.predict(x)[0])
    assert model.training_metrics == pytest.approx(expected)
    curves = model.curves[0]
    assert len(curves["ga_best_mse"]) == settings.generations + 1
    assert np.all(np.diff(curves["ga_best_mse"]) <= 0)
    scaled_y = 2 * (y - y.min()) / (y.max() - y.min()) - 1
    assert curves["lm_goal_mse"] == pytest.approx(0.05 * scaled_y.var())
    assert curves["lm_stop"] == STOP_GOAL
    assert curves["lm_mse"][-1] <= curves["lm_goal_mse"]
    assert curves["lm_mse"][0] == pytest.approx(curves["ga_best_mse"][-1])


def test_training_beats_the_mean_on_held_out_samples():
    x, y = samples(144, seed=9)
    model = train_gabp(x[:44], y[:44], NAMES, GABPSettings(seed=0))
    predicted = model.predict(x[44:])[0]
    assert np.sqrt(np.mean((predicted - y[44:]) ** 2)) < 0.6 * y[44:].std()


def test_bad_inputs_are_refused_with_a_fix():
    x, y = samples()
    with pytest.raises(SoilMetalError, match="at least 3"):
        train_gabp(x[:2], y[:2], NAMES)
    holed = x.copy()
    holed[5, 2] = np.nan
    with pytest.raises(SoilMetalError, match="missing"):
        train_gabp(holed, y, NAMES)
    with pytest.raises(SoilMetalError, match="crossover"):
        train_gabp(x, y, NAMES, GABPSettings(crossover=1.5))
    with pytest.raises(SoilMetalError, match="ensemble"):
        train_gabp(x, y, NAMES, GABPSettings(ensemble=0))


def test_progress_and_cancel():
    x, y = samples()
    seen = []
    train_gabp(x, y, NAMES, GABPSettings(ensemble=2, generations=5, epochs=5),
               monitor=Monitor(progress=seen.append))
    assert seen[-1] == pytest.approx(100.0)
    assert all(b >= a - 1e-9 for a, b in zip(seen, seen[1:]))
    with pytest.raises(Cancelled):
        train_gabp(x, y, NAMES, monitor=Monitor(is_cancelled=lambda: True))
