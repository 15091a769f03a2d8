"""Tr-GA-BP: beta grid search, penalised fine-tuning, and the gain over training from scratch."""

import numpy as np
import pytest

from core.errors import SoilMetalError
from core.science.gabp import GABPSettings, train_gabp
from core.model_file import load_model, save_model
from core.science.network import forward
from core.science.transfer import TransferSettings, parse_beta_grid, transfer

NAMES = ["B3", "B5", "NDVI", "SLOPE", "ELEVATION"]


def field(x):
    """A smooth 'true' content surface (mg/kg) over five factors in [0, 1]."""
    return (40 + 10 * np.sin(3 * x[:, 0]) + 8 * x[:, 1] ** 2 - 5 * x[:, 2] * x[:, 3]
            + 3 * x[:, 4])


def period(count, shift, seed, noise=1.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(count, len(NAMES)))
    return x, field(x) + shift + rng.normal(0, noise, count)


def source_model(seed=0, ensemble=1):
    x, y = period(150, 0.0, 100 + seed)
    return train_gabp(x, y, NAMES, GABPSettings(seed=seed, goal=0.05, ensemble=ensemble),
                      metal="Cu")


def scaled(model, x, y):
    """Target samples on the source model's [-1, 1] scale, written out from mapminmax."""
    xs = 2 * (x - model.x_min) / (model.x_max - model.x_min) - 1
    ys = 2 * (y - model.y_min) / (model.y_max - model.y_min) - 1
    return xs, ys


def rmse(model, x, y):
    return float(np.sqrt(np.mean((model.predict(x)[0] - y) ** 2)))


def test_transfer_beats_training_from_scratch_on_a_shifted_period():
    gains = []
    for seed in range(3):
        source = source_model(seed)
        x, y = period(216, 6.0, 200 + seed)
        train, test = slice(0, 16), slice(16, None)
        transferred, _ = transfer(source, x[train], y[train], TransferSettings(seed=seed))
        scratch = train_gabp(x[train], y[train], NAMES, GABPSettings(seed=seed))
        gains.append((rmse(transferred, x[test], y[test]), rmse(scratch, x[test], y[test])))
    transferred_rmse, scratch_rmse = np.median(np.array(gains), axis=0)
    assert transferred_rmse < 0.75 * scratch_rmse, gains


def test_beta0_is_the_argmin_of_the_recorded_grid_errors():
    source = source_model(1)
    x, y = period(16, 4.0, 300)
    model, curves = transfer(source, x, y, TransferSettings(epochs=5))
    xs, ys = scaled(source, x, y)
    grid = np.round(np.arange(11) * 0.1, 1)
    expected = [np.mean((forward(beta * source.members[0], xs) - ys) ** 2) for beta in grid]
    np.testing.assert_allclose(model.provenance["grid_mse"][0], expected, rtol=1e-10)
    np.testing.assert_allclose(curves[0]["grid_mse"], expected, rtol=1e-10)
    assert model.provenance["beta0"][0] == grid[int(np.argmin(expected))]
    assert model.provenance["beta_grid"] == list(grid)


def test_a_large_penalty_keeps_w_on_beta_times_ws():
    source = source_model(2)
    x, y = period(16, 5.0, 400)
    w_source = source.members[0]
    deviations = {}
    for method in ("gd", "lm"):
        for penalty in (0.0, 1e6):
            model, _ = transfer(source, x, y, TransferSettings(penalty=penalty, method=method,
                                                               epochs=60))
            beta = model.provenance["beta"][0]
            deviations[method, penalty] = (np.linalg.norm(model.members[0] - beta * w_source)
                                           / np.linalg.norm(w_source))
    for method in ("gd", "lm"):
        assert deviations[method, 1e6] < 1e-3, deviations
        assert deviations[method, 0.0] > 100 * deviations[method, 1e6], deviations


def penalised_objective(params, w_source, xs, ys, penalty, output_anchor=1.0, hidden=4):
    """MSE + penalty * sum(anchor (W - beta W_S)^2) / n_params, written out from the spec:
    anchor 1 on the hidden layer, output_anchor on the last hidden + 1 (output) parameters."""
    theta, beta = params[:-1], params[-1]
    anchor = np.ones(theta.size)
    anchor[theta.size - hidden - 1:] = output_anchor
    return (np.mean((forward(theta, xs) - ys) ** 2)
            + penalty * np.sum(anchor * (theta - beta * w_source) ** 2) / theta.size)


def numeric_gradient(params, *args, step=1e-6):
    gradient = np.zeros_like(params)
    for k in range(params.size):
        shift = np.zeros_like(params)
        shift[k] = step
        gradient[k] = (penalised_objective(params + shift, *args)
                       - penalised_objective(params - shift, *args)) / (2 * step)
    return gradient


@pytest.mark.parametrize("anchor", [1.0, 0.3])
@pytest.mark.parametrize("method,epochs,reduction", [("gd", 500, 1e-2), ("lm", 100, 1e-6)])
def test_fine_tuning_reaches_a_stationary_point_of_the_penalised_objective(method, epochs,
                                                                           reduction, anchor):
    source = source_model(2)
    x, y = period(16, 5.0, 400)
    xs, ys = scaled(source, x, y)
    w_source = source.members[0]
    model, _ = transfer(source, x, y, TransferSettings(method=method, epochs=epochs,
                                                       patience=epochs, output_anchor=anchor))
    beta0, beta = model.provenance["beta0"][0], model.provenance["beta"][0]
    args = (w_source, xs, ys, 10.0, anchor, source.hidden)
    start = np.linalg.norm(numeric_gradient(np.append(beta0 * w_source, beta0), *args))
    end = np.linalg.norm(numeric_gradient(np.append(model.members[0], beta), *args))
    assert end < reduction * start, (start, end)


def test_fine_tuning_lowers_the_penalised_objective():
    source = source_model(3)
    x, y = period(16, 5.0, 500)
    for method in ("gd", "lm"):
        _, curves = transfer(source, x, y, TransferSettings(method=method, epochs=100))
        objective = np.array(curves[0]["objective"])
        assert len(curves[0]["train_mse"]) == len(curves[0]["beta"]) == objective.size
        assert curves[0]["train_mse"][0] == pytest.approx(objective[0])
        assert np.all(np.diff(objective) <= 0.0)
        assert objective[-1] < objective[0]
        # The first objective is the fit of beta0 * W_S, which has no penalty term.
        assert objective[0] == pytest.approx(min(curves[0]["grid_mse"]))


def test_transferred_model_keeps_source_scaling_and_records_provenance(tmp_path):
    source = source_model(4, ensemble=2)
    x, _ = period(16, 5.0, 600)
    x = source.x_min + x * (source.x_max - source.x_min)    # inside the source ranges...
    x[3, 2] = 1.4                                            # ...except one NDVI value
    y = field(x) + 5.0
    model, curves = transfer(source, x, y, TransferSettings(epochs=20), metal="Cu 2019")
    np.testing.assert_array_equal(model.x_min, source.x_min)
    np.testing.assert_array_equal(model.x_max, source.x_max)
    assert (model.y_min, model.y_max) == (source.y_min, source.y_max)
    assert model.method == "Tr-GA-BP" and model.metal == "Cu 2019"
    assert model.ensemble_size == 2 and len(curves) == 2
    provenance = model.provenance
    assert len(provenance["beta"]) == 2 and len(provenance["beta0"]) == 2
    assert provenance["samples_used"] == 16 and provenance["source_sha256"] is None
    assert provenance["method"] == "gd" and provenance["penalty"] == 10.0
    assert provenance["outside_source_range"]["factors"] == ["NDVI"]
    assert 3 in provenance["outside_source_range"]["samples"]
    assert model.factor_ranges["NDVI"][1] == 1.4      # union of source and target samples
    save_model(model, tmp_path / "tr.json")
    reloaded = load_model(tmp_path / "tr.json")
    np.testing.assert_array_equal(reloaded.predict(x)[0], model.predict(x)[0])
    assert reloaded.provenance["beta"] == provenance["beta"]


def test_internal_hold_out_is_reproducible():
    source = source_model(5)
    x, y = period(16, 5.0, 700)
    settings = TransferSettings(validation_fraction=0.25, seed=3, epochs=50)
    first, curves = transfer(source, x, y, settings)
    second, _ = transfer(source, x, y, settings)
    np.testing.assert_array_equal(first.members[0], second.members[0])
    assert curves[0]["fit_samples"] == 12 and len(curves[0]["check_mse"]) >= 2


def test_beta_grid_parsing_and_bad_settings():
    assert parse_beta_grid("0:1:0.1") == tuple(np.round(np.arange(11) * 0.1, 10))
    assert parse_beta_grid("0.2, 0.5,1") == (0.2, 0.5, 1.0)
    with pytest.raises(SoilMetalError, match="beta grid"):
        parse_beta_grid("0:1")
    source = source_model(0)
    x, y = period(16, 0.0, 800)
    with pytest.raises(SoilMetalError, match="method"):
        transfer(source, x, y, TransferSettings(method="adam"))
    with pytest.raises(SoilMetalError, match="penalty"):
        transfer(source, x, y, TransferSettings(penalty=-1))


def test_output_anchor_frees_the_output_layer_only():
    """With a huge penalty the hidden layer stays at beta * W_S; the output layer moves
    only when its anchor is below 1."""
    from core.science.network import n_params
    from core.science.transfer import anchor_weights, transfer_member
    assert list(anchor_weights(n_params(2, 4), 4, 0.3)) == [1.0] * 12 + [0.3] * 5
    rng = np.random.default_rng(4)
    theta_source = rng.normal(0, 0.8, n_params(2, 4))
    xs = rng.uniform(-1, 1, (16, 2))
    from core.science.network import forward
    ys = forward(theta_source, xs) + 0.4  # the target period is the source shifted upward
    hidden = slice(0, 12)
    output = slice(12, 17)
    moved = {}
    for anchor in (1.0, 0.0):
        settings = TransferSettings(penalty=1e6, output_anchor=anchor, epochs=50, beta_grid=(1.0,),
                                    method="lm")
        theta, beta, _, _, _ = transfer_member(theta_source, xs, ys, settings, np.random.default_rng(0))
        np.testing.assert_allclose(theta[hidden], beta * theta_source[hidden], atol=1e-3)
        moved[anchor] = np.abs(theta[output] - beta * theta_source[output]).max()
    assert moved[1.0] < 1e-3
    assert moved[0.0] > 0.1
