"""The monitor's logging: what goes to the info and what to the warning channel."""

from core.monitor import Monitor


def test_note_logs_warnings_as_warnings_and_the_rest_as_information():
    infos, warnings = [], []
    monitor = Monitor(info=infos.append, warning=warnings.append)
    monitor.note("careful", "warning")
    monitor.note("fyi", "info")
    monitor.note("plain")
    assert warnings == ["careful"] and infos == ["fyi", "plain"]
