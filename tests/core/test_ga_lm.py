"""The genetic algorithm and Levenberg-Marquardt (trainlm semantics)."""

import numpy as np
import pytest

from core.errors import Cancelled
from core.science.ga import run_ga
from core.science.lm import STOP_GOAL, STOP_MIN_GRAD, train_lm
from core.monitor import Monitor
from core.science.network import forward, jacobian, n_params


def smooth_problem(n_inputs=9, samples=44, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(samples, n_inputs))
    y = np.tanh(x[:, 0] - 0.5 * x[:, 1]) + 0.3 * x[:, 2] ** 2 - 0.2
    return x, y


def mse(theta, x, y):
    return float(np.mean((forward(theta, x) - y) ** 2))


def test_ga_best_never_worsens_and_matches_returned_theta():
    x, y = smooth_problem()
    result = run_ga(x, y, 4, np.random.default_rng(3), population=30, generations=50,
                    crossover=0.3, mutation=0.1)
    best = np.array(result.best_mse)
    assert best.shape == (51,) and len(result.mean_mse) == 51
    assert np.all(np.diff(best) <= 0.0)
    assert best[-1] < best[0]
    assert np.all(np.array(result.mean_mse) >= best - 1e-12)
    assert result.best_theta.shape == (45,)
    assert mse(result.best_theta, x, y) == pytest.approx(best[-1], rel=1e-9)


def test_ga_is_reproducible_from_the_generator():
    x, y = smooth_problem()
    first = run_ga(x, y, 4, np.random.default_rng(11), generations=10)
    second = run_ga(x, y, 4, np.random.default_rng(11), generations=10)
    other = run_ga(x, y, 4, np.random.default_rng(12), generations=10)
    np.testing.assert_array_equal(first.best_theta, second.best_theta)
    assert not np.array_equal(first.best_theta, other.best_theta)


def test_ga_reports_progress_and_honours_cancel():
    x, y = smooth_problem()
    seen = []
    run_ga(x, y, 4, np.random.default_rng(0), generations=5, monitor=Monitor(progress=seen.append))
    assert seen[-1] == pytest.approx(100.0) and len(seen) == 5
    with pytest.raises(Cancelled):
        run_ga(x, y, 4, np.random.default_rng(0), monitor=Monitor(is_cancelled=lambda: True))


def test_lm_first_epoch_is_the_damped_gauss_newton_step():
    x, y = smooth_problem(samples=30)
    theta0 = np.random.default_rng(4).normal(0, 0.5, 45)
    result = train_lm(theta0, x, y, epochs=1, goal=0.0)
    # Independent: solve (J^T J + mu I) dx = -J^T e with mu = 0.001, as trainlm does first.
    jac = jacobian(theta0, x)
    error = forward(theta0, x) - y
    step = np.linalg.solve(jac.T @ jac + 1e-3 * np.eye(45), -jac.T @ error)
    assert mse(theta0 + step, x, y) < mse(theta0, x, y)     # so trainlm accepts it
    np.testing.assert_allclose(result.x, theta0 + step, rtol=1e-9, atol=1e-12)
    assert result.mu == pytest.approx(1e-4)                 # mu * mu_dec after a good step


def test_lm_reaches_the_goal_on_a_representable_function():
    rng = np.random.default_rng(5)
    true_theta = rng.normal(0, 1, n_params(2, 4))
    x = rng.uniform(-1, 1, size=(60, 2))
    y = forward(true_theta, x)
    start = true_theta + rng.normal(0, 0.3, true_theta.size)
    result = train_lm(start, x, y, epochs=200, goal=1e-10)
    assert result.stop_reason == STOP_GOAL
    assert mse(result.x, x, y) <= 1e-10
    assert result.perf[-1] == pytest.approx(mse(result.x, x, y), rel=1e-9)
    assert np.all(np.diff(result.perf) <= 0.0)


def test_lm_with_fewer_samples_than_weights():
    x, y = smooth_problem(samples=16, seed=6)
    theta0 = np.random.default_rng(6).uniform(-1, 1, 45)
    result = train_lm(theta0, x, y, epochs=50, goal=0.0)
    assert result.perf[0] == pytest.approx(mse(theta0, x, y))
    assert result.perf[-1] < 0.01 * result.perf[0]
    assert np.all(np.diff(result.perf) <= 0.0)
    assert np.all(np.isfinite(result.x))


def test_lm_stops_on_minimum_gradient_at_an_exact_fit():
    rng = np.random.default_rng(7)
    theta = rng.normal(size=17)
    x = rng.uniform(-1, 1, size=(20, 2))
    result = train_lm(theta, x, forward(theta, x), epochs=50, goal=-1.0)
    assert result.stop_reason == STOP_MIN_GRAD and len(result.perf) == 1


def test_lm_honours_cancel():
    x, y = smooth_problem()
    with pytest.raises(Cancelled):
        train_lm(np.zeros(45) + 0.1, x, y, monitor=Monitor(is_cancelled=lambda: True))
