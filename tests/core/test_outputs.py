"""The output transaction: staged names, commit/abort, stale temporaries, path checks, signals."""

import os
import signal
import subprocess
import sys

import pytest

from core import outputs
from core.errors import Cancelled, SoilMetalError
from core.monitor import cancel_on_signals
from core.reports.html import write_text_atomic


def listing(folder):
    return sorted(os.listdir(folder))


def test_commit_moves_every_file_of_the_run_into_place(tmp_path):
    transaction = outputs.OutputTransaction()
    model = transaction.stage(tmp_path / "model.json")
    report = transaction.stage(tmp_path / "sub" / "report.html")
    assert os.path.basename(model).startswith(".partial-") and outputs.is_temporary(model)
    assert (tmp_path / "sub").is_dir()
    write_text_atomic(model, "{}")
    write_text_atomic(report, "<html/>")
    # A file derived from a staged name (a report's figure JSON) travels with it.
    write_text_atomic(report[:-len(".html")] + ".json", "[]")
    assert listing(tmp_path) == sorted([os.path.basename(model), "sub"])
    transaction.commit()
    assert listing(tmp_path) == ["model.json", "sub"]
    assert listing(tmp_path / "sub") == ["report.html", "report.json"]
    assert (tmp_path / "sub" / "report.json").read_text() == "[]"
    assert outputs.final_path(report) == report  # forgotten once the run is over


def test_text_written_during_a_run_names_the_final_paths(tmp_path):
    transaction = outputs.OutputTransaction()
    index = transaction.stage(tmp_path / "cu_igeo.tif")
    report = transaction.stage(tmp_path / "cu_statistics.html")
    write_text_atomic(report, f"<p>Written to {index}.</p>")
    transaction.commit()
    assert (tmp_path / "cu_statistics.html").read_text() == f"<p>Written to {tmp_path / 'cu_igeo.tif'}.</p>"


def test_abort_leaves_nothing_not_even_the_folders_it_created(tmp_path):
    (tmp_path / "old.csv").write_text("kept")
    transaction = outputs.OutputTransaction()
    table = transaction.stage(tmp_path / "old.csv")
    deep = transaction.stage(tmp_path / "a" / "b" / "map.tif")
    assert outputs.final_path(deep) == str(tmp_path / "a" / "b" / "map.tif")
    write_text_atomic(table, "new")
    open(deep, "wb").close()
    open(deep + ".aux.xml", "w").close()
    transaction.abort()
    assert listing(tmp_path) == ["old.csv"]
    assert (tmp_path / "old.csv").read_text() == "kept"


def test_stale_temporaries_of_killed_runs_are_cleaned(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    names = [f".partial-{dead}-0123abcd.map.tif", f".partial-{dead}-0123abcd.map.tif.aux.xml",
             ".map.tif.0b93c503.partial.tif",                       # raster writer, before
             ".report.html." + "a" * 32 + ".part",                    # text writer, before
             "model.json." + "b" * 32 + ".tmp"]                       # model writer, before
    alive = f".partial-{os.getpid()}-89abcdef.other.tif"              # a run still going
    for name in names + [alive, "map.tif", ".hidden.tif"]:
        (tmp_path / name).write_bytes(b"")
    removed = outputs.clean_stale(tmp_path)
    assert sorted(removed) == sorted(names)
    assert listing(tmp_path) == sorted([alive, ".hidden.tif", "map.tif"])


def test_destination_checks_name_the_problem(tmp_path):
    check = outputs.check_destination
    assert check("OUTPUT", str(tmp_path / "new" / "map.tif"), (".tif", ".tiff"), "a GeoTIFF") is None
    message = check("OUTPUT", str(tmp_path / "map.png"), (".tif", ".tiff"), "a GeoTIFF")
    assert "'.png'" in message and "map.tif" in message
    assert "is a folder" in check("OUTPUT_TABLE", str(tmp_path), (".csv",))
    (tmp_path / "file").write_text("x")
    assert "is a file, not a folder" in check("OUTPUT_REPORT", str(tmp_path / "file" / "r.html"), (".html",))
    if os.geteuid() != 0:  # root writes everywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "permission denied" in check("OUTPUT_MODEL", str(locked / "m.json"), (".json",))


def test_a_stage_that_cannot_create_its_folder_is_a_soilmetal_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SoilMetalError, match="Cannot create the output folder"):
        outputs.OutputTransaction().stage(tmp_path / "file" / "sub" / "m.json")


def test_a_signal_cancels_at_once_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    cancelled = []
    with pytest.raises(Cancelled, match="SIGTERM"):
        with cancel_on_signals(lambda: cancelled.append(True)):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10 ** 7):  # the handler runs between two bytecodes
                pass
    assert cancelled == [True]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_held_section_records_the_signal_without_interrupting():
    with cancel_on_signals(lambda: None) as guard:
        with guard.held():
            os.kill(os.getpid(), signal.SIGINT)
            total = sum(range(1000))
        assert guard.received == [signal.SIGINT]
    assert total == 499500
