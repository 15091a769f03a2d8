"""The BP network: parameter layout, forward passes, analytic Jacobian, min-max scaling."""

import math

import numpy as np
import pytest

from core.science.network import (
    forward,
    forward_population,
    hidden_from_n_params,
    jacobian,
    minmax_apply,
    minmax_fit,
    minmax_invert,
    n_params,
    pack,
    unpack,
)


def loop_forward(theta, x, hidden):
    """The network written out with Python loops, straight from the documented layout."""
    n_inputs = x.shape[1]
    out = []
    for row in x:
        total = theta[-1]
        for h in range(hidden):
            pre = theta[hidden * n_inputs + h]
            for i in range(n_inputs):
                pre += theta[h * n_inputs + i] * row[i]
            total += theta[hidden * n_inputs + hidden + h] * math.tanh(pre)
        out.append(total)
    return np.array(out)


def test_parameter_count_matches_the_paper():
    assert n_params(9, 4) == 45           # 40 weights + 5 thresholds
    assert n_params(2, 4) == 17
    assert hidden_from_n_params(45, 9) == 4
    with pytest.raises(ValueError):
        hidden_from_n_params(44, 9)


def test_pack_unpack_layout_is_row_major():
    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = rng.normal(size=(4, 9)), rng.normal(size=4), rng.normal(size=4), 0.7
    theta = pack(w1, b1, w2, b2)
    assert theta.shape == (45,)
    assert theta[1 * 9 + 5] == w1[1, 5]
    assert theta[36 + 2] == b1[2] and theta[40 + 3] == w2[3] and theta[44] == 0.7
    u1, ub1, uw2, ub2 = unpack(theta, 9)
    np.testing.assert_array_equal(u1, w1)
    np.testing.assert_array_equal(ub1, b1)
    np.testing.assert_array_equal(uw2, w2)
    assert ub2 == b2


def test_forward_equals_written_out_loops():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=n_params(3, 5))
    x = rng.uniform(-1, 1, size=(7, 3))
    np.testing.assert_allclose(forward(theta, x), loop_forward(theta, x, 5), rtol=1e-12)


def test_forward_population_equals_forward_per_individual():
    rng = np.random.default_rng(2)
    thetas = rng.normal(size=(30, 45))
    x = rng.uniform(-1, 1, size=(44, 9))
    population = forward_population(thetas, x)
    assert population.shape == (30, 44)
    for index, theta in enumerate(thetas):
        np.testing.assert_allclose(population[index], forward(theta, x), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("n_inputs,hidden", [(9, 4), (2, 4), (1, 1), (5, 7)])
def test_jacobian_equals_central_differences(n_inputs, hidden):
    rng = np.random.default_rng(n_inputs * 10 + hidden)
    theta = rng.normal(size=n_params(n_inputs, hidden))
    x = rng.uniform(-1, 1, size=(13, n_inputs))
    step = 1e-6
    numeric = np.empty((13, theta.size))
    for k in range(theta.size):
        shift = np.zeros_like(theta)
        shift[k] = step
        numeric[:, k] = (loop_forward(theta + shift, x, hidden)
                         - loop_forward(theta - shift, x, hidden)) / (2 * step)
    np.testing.assert_allclose(jacobian(theta, x), numeric, rtol=1e-6, atol=1e-8)


def test_minmax_matches_mapminmax_and_inverts():
    x = np.array([[2.0, -5.0], [4.0, 5.0], [3.0, 0.0]])
    vmin, vmax = minmax_fit(x)
    np.testing.assert_array_equal(vmin, [2.0, -5.0])
    np.testing.assert_array_equal(vmax, [4.0, 5.0])
    scaled = minmax_apply(x, vmin, vmax)
    # mapminmax: y = (ymax - ymin) * (x - xmin) / (xmax - xmin) + ymin with [ymin, ymax] = [-1, 1]
    expected = 2.0 * (x - np.array([2.0, -5.0])) / np.array([2.0, 10.0]) - 1.0
    np.testing.assert_allclose(scaled, expected)
    np.testing.assert_allclose(minmax_invert(scaled, vmin, vmax), x)


def test_constant_column_is_scaled_to_zero_without_division_by_zero():
    x = np.array([[1.0, 7.0], [3.0, 7.0], [2.0, 7.0]])
    vmin, vmax = minmax_fit(x)
    with np.errstate(all="raise"):
        scaled = minmax_apply(x, vmin, vmax)
        outside = minmax_apply(np.array([[2.0, 100.0]]), vmin, vmax)
    np.testing.assert_array_equal(scaled[:, 1], 0.0)
    assert outside[0, 1] == 0.0
    np.testing.assert_allclose(minmax_invert(scaled, vmin, vmax)[:, 1], 7.0)
