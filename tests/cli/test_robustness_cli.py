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
    from core.network import n_params
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
    assert sorted(os.listdir(full)) == ["map.tif", "unc.tif"]
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
