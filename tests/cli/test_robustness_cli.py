"""Robustness through qgis_process itself: a run killed by SIGTERM or SIGINT leaves no file, and
a bad input stops with one message, no traceback and nothing in the output folder."""

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from rasters import write_raster
from support import QGIS_PROCESS, qgis_process_env, run_algorithm_cli

NAMES = ["A", "B", "C"]


def write_model(path, names, members=5):
    """A valid soilmetal model file written with the core's own writer (not under test here)."""
    from core.model_file import Model, save_model
    from core.science.network import n_params
    rng = np.random.default_rng(1)
    model = Model(factor_names=names, x_min=np.zeros(len(names)), x_max=np.full(len(names), 100.0),
                  y_min=10.0, y_max=90.0, members=[rng.normal(0, 0.7, n_params(len(names), 4))
                                                   for _ in range(members)], hidden=4, metal="Cu")
    save_model(model, path)
    return str(path)


@pytest.fixture(scope="module")
def large_run(tmp_path_factory):
    """A model and a factor raster big enough for predictcontent to run several seconds."""
    folder = tmp_path_factory.mktemp("large")
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 100, (3000, 3000)).astype(np.float32)
    raster = write_raster(folder / "factors.tif", [values, values.T, values[::-1]], NAMES)
    return write_model(folder / "model.json", NAMES), raster


def predict_command(model, raster, out):
    return [QGIS_PROCESS, "run", "soilmetal:predictcontent", "--", f"MODEL={model}",
            f"FACTORS={raster}", f"OUTPUT={out / 'map.tif'}", f"OUTPUT_UNCERTAINTY={out / 'unc.tif'}"]


def test_full_run_then_killed_runs_leave_nothing(profile, large_run, tmp_path):
    model, raster = large_run
    env = qgis_process_env(profile)
    # The control: an uninterrupted run writes both maps, and takes this long.
    full = tmp_path / "full"
    full.mkdir()
    started = time.monotonic()
    result = subprocess.run(predict_command(model, raster, full), env=env, capture_output=True, text=True,
                            timeout=600)
    duration = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(full)) == ["map.qml", "map.tif", "unc.qml", "unc.tif"]   # each map with its style
    # A file of a killed run from before (SIGKILL cannot be caught): the next run cleans it.
    for number in (signal.SIGTERM, signal.SIGINT):
        out = tmp_path / number.name
        out.mkdir()
        (out / ".map.tif.0b93c503.partial.tif").write_bytes(b"")
        process = subprocess.Popen(predict_command(model, raster, out), env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        # Signal once the run is writing (its staged outputs exist), a little into the work.
        while not any(name.startswith(".partial-") for name in os.listdir(out)):
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        time.sleep(0.3)
        signalled = time.monotonic()
        process.send_signal(number)
        _, stderr = process.communicate(timeout=120)
        stopped = time.monotonic()
        assert process.returncode != 0
        assert os.listdir(out) == [], f"{number.name} left {os.listdir(out)}"
        assert stderr.count(f"Stopped by {number.name}") == 1, stderr
        assert "Traceback" not in stderr
        # The run stopped before it would have finished: the time a full run still needed at
        # the signal is the bound (a generous one: the stop takes a fraction of a second, and
        # well within the 2 s cancel promise, on an idle machine).
        remaining = duration - (signalled - started)
        print(f"{number.name}: stopped {stopped - signalled:.2f} s after the signal; a full run "
              f"needed {remaining:.2f} s more")
        assert stopped - signalled < remaining


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small factor raster, sample points and a model for the bad-input cases."""
    from rasters import write_points
    folder = tmp_path_factory.mktemp("small")
    rng = np.random.default_rng(2)
    raster = write_raster(folder / "f.tif", [rng.uniform(0, 100, (30, 30)) for _ in NAMES], NAMES)
    cells = rng.choice(900, 25, replace=False)
    xy = [(300000.0 + 30 * (c % 30) + 15, 3730000.0 - 30 * (c // 30) - 15) for c in cells]
    points = write_points(folder / "p.gpkg", xy, {"cu": [float(v) for v in rng.uniform(10, 90, 25)]})
    zero = folder / "zero.tif"
    zero.write_bytes(b"")
    return {"raster": raster, "points": points, "model": write_model(folder / "m.json", NAMES),
            "zero": str(zero)}


# A handful of the algorithm-tier cases (tests/algorithms/test_robustness.py) as a script sends
# them: (algorithm, parameters with {out}, text the output must hold exactly once).
CLI_CASES = [
    ("traingabp", {"HIDDEN": 0}, "give a whole number from 1 to 100"),
    ("traingabp", {"FACTOR_NAMES": ["A", "B"]}, "FACTOR_NAMES was given 2 times"),
    ("traingabp", {"FACTOR_NAMES": "A,A,B"}, "A given more than once"),
    ("transfergabp", {"BETA_GRID": "0:inf:0.1"}, "must be finite numbers"),
    ("transfergabp", {"BETA_GRID": "0:100000:0.001"}, "at most 10,001 are allowed"),
    ("predictcontent", {"OUTPUT": "{out}/map.png"}, "ends in '.png'"),
    ("predictcontent", {"FACTORS": "{zero}"}, "is empty (0 bytes)"),
]


# Each case through the text output, and the traingabp ones through --json as well.
RUNS = [(*case, False) for case in CLI_CASES] + [(*case, True) for case in CLI_CASES if case[0] == "traingabp"]


@pytest.mark.parametrize("algorithm, changes, expected, json_output", RUNS,
                         ids=[f"{a}-{next(iter(c))}-{i}{'-json' if j else ''}"
                              for i, (a, c, _, j) in enumerate(RUNS)])
def test_bad_input_through_qgis_process(profile, small, tmp_path, algorithm, changes, expected,
                                        json_output):
    out = tmp_path / "out"
    out.mkdir()
    base = {"POINTS": small["points"], "FIELD": "cu", "FACTORS": small["raster"]}
    parameters = {
        "traingabp": {**base, "GENERATIONS": 1, "EPOCHS": 1, "CV": 0, "OUTPUT_MODEL": "{out}/m.json"},
        "transfergabp": {**base, "SOURCE_MODEL": small["model"], "CV": 0, "OUTPUT_MODEL": "{out}/t.json"},
        "predictcontent": {"MODEL": small["model"], "FACTORS": small["raster"], "OUTPUT": "{out}/map.tif"},
    }[algorithm]
    parameters.update(changes)
    names = {"out": str(out), "zero": small["zero"]}
    filled = {key: ([v.format(**names) for v in value] if isinstance(value, list) else
                    value.format(**names) if isinstance(value, str) else value)
              for key, value in parameters.items()}
    if json_output:
        code, _, log = run_algorithm_cli(algorithm, filled, profile)
    else:
        args = ["run", f"soilmetal:{algorithm}", "--"]
        for key, value in filled.items():
            args += [f"{key}={item}" for item in (value if isinstance(value, list) else [value])]
        result = subprocess.run([QGIS_PROCESS] + args, env=qgis_process_env(profile),
                                capture_output=True, text=True, timeout=300)
        code, log = result.returncode, result.stderr + result.stdout
    assert code not in (0, 134), log
    assert log.count(expected) == 1, log
    assert "Traceback" not in log
    assert os.listdir(out) == []
