"""Tr-GA-BP cross-validation on all target samples, the bootstrap verdict, and the betas."""

import numpy as np
import pandas as pd
import pytest

from core.science.cv_transfer import cross_validate_transfer, fit_transfer, fold_training_rows, transfer_verdict
from core.science.cv_gabp import fold_labels, fold_model_generator
from core.reports.cv_transfer import NOT_USED, beta_rows
from core.science.gabp import GABPSettings, train_gabp
from core.model_file import Model
from core.science.network import n_params
from core.science.transfer import TransferSettings

NAMES = ["F1", "F2"]
FAST = GABPSettings(population=6, generations=2, epochs=5, seed=3)


def survey(count, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (count, 2))
    return x, 30 + 20 * x[:, 0] - 5 * x[:, 1] + shift + rng.normal(0, 1, count)


def test_fold_training_rows_take_at_most_train_samples_of_the_fold():
    train = np.arange(3, 30)
    rows = fold_training_rows(train, 16, seed=0, fold=2)
    assert rows.size == 16 and set(rows) <= set(train) and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(fold_training_rows(train, 16, 0, 2), rows)   # seeded
    np.testing.assert_array_equal(fold_training_rows(train[:10], 16, 0, 2), train[:10])


def test_every_fold_refits_transfer_and_scratch_on_the_same_samples():
    xs, ys = survey(60, 1)
    source = train_gabp(xs, ys, NAMES, FAST)
    x, y = survey(30, 2, shift=5)
    coords = np.random.default_rng(3).uniform(0, 1000, (30, 2))
    settings = TransferSettings(epochs=20, seed=4)
    result = cross_validate_transfer(source, x, y, coords, settings, FAST, 12, 1, "spatial", 5)
    _, labels = fold_labels("spatial", 5, x, coords, 4)
    np.testing.assert_array_equal(result["labels"], labels)
    pred = result["predictions"]
    np.testing.assert_allclose(pred["Source"], source.predict(x)[0])
    for fold in np.unique(labels):
        test = labels == fold
        rows = fold_training_rows(np.flatnonzero(~test), 12, 4, fold)
        assert rows.size == 12
        seed = int(fold_model_generator(4, fold).integers(2 ** 31))
        tr, _ = fit_transfer(source, x[rows], y[rows], settings, 1, seed=seed)
        np.testing.assert_allclose(pred["Tr-GA-BP"][test], tr.predict(x[test])[0])
        scratch = train_gabp(x[rows], y[rows], NAMES, FAST, rng=fold_model_generator(3, fold))
        np.testing.assert_allclose(pred["GA-BP"][test], scratch.predict(x[test])[0])
        np.testing.assert_allclose(pred["mean"][test], y[rows].mean())
    assert result["retrained"] == 12


def test_verdict_states_a_direction_only_when_the_interval_excludes_zero():
    rng = np.random.default_rng(0)
    obs = rng.normal(50, 10, 40)
    close, far = obs + rng.normal(0, 1, 40), obs + rng.normal(0, 6, 40)
    assert transfer_verdict(obs, close, far, 0)["verdict"] == "helps"
    negative = transfer_verdict(obs, far, close, 0)
    assert negative["verdict"] == "negative" and negative["low"] > 0
    assert negative["wins"] + negative["losses"] + negative["ties"] == 40
    # Two equally good models: 13.19 against 13.00 is no difference.
    a, b = obs + rng.normal(0, 5, 40), obs + rng.normal(0, 5, 40)
    tie = transfer_verdict(obs, a, b, 0)
    assert tie["verdict"] == "no detectable difference" and tie["low"] < 0 < tie["high"]
    direct = np.sqrt(np.mean((a - obs) ** 2)) - np.sqrt(np.mean((b - obs) ** 2))
    assert tie["difference"] == pytest.approx(direct)


def test_beta_rows_say_when_a_member_did_not_use_the_source():
    members = [np.zeros(n_params(2, 4)) for _ in range(3)]
    model = Model(factor_names=NAMES, x_min=[0, 0], x_max=[1, 1], y_min=0, y_max=1,
                  members=members, provenance={"beta0": [0.0, 0.7, 0.9],
                                               "beta": [-0.2, 0.66, 0.89]})
    rows = beta_rows(model)
    assert isinstance(rows, pd.DataFrame) and list(rows["note"]) == [NOT_USED, "", ""]
    assert "not used" in NOT_USED and np.median(model.provenance["beta"]) == 0.66
