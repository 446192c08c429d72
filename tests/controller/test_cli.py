"""``geoscada controller`` refuses a bad configuration at start, naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import cli
from tests.controller.procs import SCHOOL

BASE = ["--site", str(SCHOOL), "--broker", "mqtt://127.0.0.1:1", "--db",
        "postgresql://nobody@127.0.0.1:1/none"]


@pytest.mark.parametrize(("settings", "expected"), [
    ("deep-borehole-school: {F-S1.filter_dp: {on_delay: 5}}",
     "deep-borehole-school.F-S1.filter_dp.on_delay: Extra inputs are not permitted"),
    ("deep-borehole-school: {F-S9.filter_dp: {on_delay_s: 5}}",
     "alarm settings name no alarm or rule: F-S9.filter_dp"),
    ("elsewhere: {filter_dp: {on_delay_s: 5}}",
     "alarm settings for stations not configured: elsewhere"),
    ("deep-borehole-school: {HP1.instrument: {on_delay_s: 0}}",
     "the consequence would show before its cause"),
    ("deep-borehole-school: [", "alarm-settings.yaml"),
])
def test_bad_alarm_settings_stop_the_start_with_their_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: str, expected: str) -> None:
    path = tmp_path / "alarm-settings.yaml"
    path.write_text(settings)
    code = cli.main([*BASE, "--state-dir", str(tmp_path / "state"), "--alarm-settings",
                     str(path)])
    assert code == 2
    assert expected in capsys.readouterr().err


def test_a_damaged_state_file_stops_the_start_with_its_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "deep-borehole-school.json").write_text("{")
    assert cli.main([*BASE, "--state-dir", str(state)]) == 2
    assert "deep-borehole-school.json: not a controller state file" in capsys.readouterr().err
