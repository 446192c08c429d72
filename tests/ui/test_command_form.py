"""What the command screen checks before signing, against the school's site file (and the
doublet's, which the controller stages)."""

from __future__ import annotations

import pytest

from plant.site import load_site
from ui.command_form import (
    CommandRequestError,
    checked_value,
    command_points,
    confirmation,
    confirmed,
    staging_refusal,
)

SITE = load_site("sites/deep-borehole-school.yaml")
KEY = b"k" * 32


def test_the_form_lists_every_writable_point_with_the_site_files_limits() -> None:
    points = {p.id: p for p in command_points(SITE)}
    assert set(points) == {p.id for p in SITE.points if p.writable}
    setpoint = points["HP1.supply_temp_setpoint"]
    assert (setpoint.minimum, setpoint.maximum, setpoint.max_step) == (50, 65, 2)
    assert setpoint.limits_text == "50 … 65 degC, at most 2 per change"
    assert points["HP1.run_command"].limits_text == "on / off"


@pytest.mark.parametrize(("point", "text", "current", "value"), [
    ("HP1.supply_temp_setpoint", "56", 55.0, 56.0),
    ("HP1.supply_temp_setpoint", " 54.5 ", 55.0, 54.5),
    ("HP1.run_command", "on", False, True),
    ("HP1.run_command", "off", True, False),
])
def test_values_within_the_limits_pass(point: str, text: str, current: object, value: object) -> None:
    assert checked_value(SITE, point, text, current)[1] == value  # type: ignore[arg-type]


@pytest.mark.parametrize(("point", "text", "current", "why"), [
    ("HP1.supply_temp_setpoint", "70", 64.0, "outside limits 50.0..65.0"),
    ("HP1.supply_temp_setpoint", "49", 50.0, "outside limits"),
    ("HP1.supply_temp_setpoint", "60", 55.0, "exceeds max_step 2"),
    ("HP1.supply_temp_setpoint", "56", None, "no current value"),
    ("HP1.supply_temp_setpoint", "warm", 55.0, "takes a number"),
    ("HP1.supply_temp_setpoint", "nan", 55.0, "finite number"),
    ("HP1.supply_temp_setpoint", "on", 55.0, "takes a number"),
    ("HP1.run_command", "2", True, "takes on or off"),
])
def test_values_the_gateway_would_refuse_are_refused_here(point: str, text: str,
                                                          current: object, why: str) -> None:
    with pytest.raises(CommandRequestError, match=why):
        checked_value(SITE, point, text, current)  # type: ignore[arg-type]


@pytest.mark.parametrize("point", ["HP1.cop", "HP9.run_command"])
def test_a_point_that_is_not_writable_or_not_there_is_unknown(point: str) -> None:
    with pytest.raises(KeyError):
        checked_value(SITE, point, "1", None)


def test_a_confirmation_covers_exactly_the_confirmed_command_until_it_expires() -> None:
    token = confirmation(KEY, user="olga", station="school", point="HP1.supply_temp_setpoint",
                         value=56.0, expires=1000)
    assert confirmed(KEY, token, user="olga", station="school", point="HP1.supply_temp_setpoint",
                         value=56.0, now=999.0)
    assert not confirmed(KEY, token, user="olga", station="school", point="HP1.supply_temp_setpoint",
                         value=56.0, now=1001.0)
    assert not confirmed(KEY, token, user="olga", station="school", point="HP1.supply_temp_setpoint",
                         value=57.0, now=999.0)
    assert not confirmed(KEY, token, user="ivan", station="school", point="HP1.supply_temp_setpoint",
                         value=56.0, now=999.0)
    assert not confirmed(KEY, token, user="olga", station="school", point="HP2.supply_temp_setpoint",
                         value=56.0, now=999.0)
    assert not confirmed(b"x" * 32, token, user="olga", station="school", point="HP1.supply_temp_setpoint",
                         value=56.0, now=999.0)
    assert not confirmed(KEY, "", user="olga", station="school", point="HP1.supply_temp_setpoint",
                         value=56.0, now=999.0)
    assert not confirmed(KEY, "2000." + token.split(".")[1], user="olga", station="school",
                         point="HP1.supply_temp_setpoint", value=56.0, now=999.0)


DOUBLET = load_site("sites/hydrothermal-doublet.yaml")


def test_a_unit_under_automatic_staging_is_refused_until_it_is_held_out() -> None:
    assert DOUBLET.station.staging is not None  # the demo's staged station
    for point in ("HP2-1.run_command", "HP2-1.remote_mode"):
        why = staging_refusal(DOUBLET, point, held=())
        assert why is not None and why.startswith("HP2-1 is under automatic staging")
        assert "holds HP2-1 out of automatic staging" in why
        assert staging_refusal(DOUBLET, point, held={"HP2-1"}) is None
    assert staging_refusal(DOUBLET, "HP2-2.run_command", held={"HP2-1"}) is not None
    # what staging does not write stays the operator's: a setpoint, a well pump
    assert staging_refusal(DOUBLET, "HP2-1.supply_temp_setpoint", held=()) is None
    assert staging_refusal(DOUBLET, "PW1.run_command", held=()) is None
    # a station its own logic stages, and a point that is not there
    assert SITE.station.staging is None
    assert staging_refusal(SITE, "HP1.run_command", held=()) is None
    assert staging_refusal(DOUBLET, "HP9.run_command", held=()) is None
