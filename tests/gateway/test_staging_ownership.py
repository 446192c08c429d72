"""Who may command a staged heat pump at the gateway, and the gateway's durable record of the
units held out of automatic staging."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.commands import staged_units, staging_refusal
from gateway.spool import Spool
from plant.site import Site, load_site

SITES = Path(__file__).resolve().parents[2] / "sites"


@pytest.fixture(scope="module")
def doublet() -> Site:
    return load_site(SITES / "hydrothermal-doublet.yaml")


def test_a_staged_unit_is_the_controllers_until_held_out(doublet: Site) -> None:
    assert staged_units(doublet) == {"HP2-1", "HP2-2", "HP3-1", "HP3-2"}

    def why(point: str, role: str, held: frozenset[str] = frozenset(),
            in_charge: bool = True) -> str | None:
        return staging_refusal(doublet, point, role, held, controller_in_charge=in_charge)

    assert why("HP3-1.run_command", "controller") is None
    assert "under automatic staging" in (why("HP3-1.run_command", "operator") or "")
    assert "under automatic staging" in (why("HP3-1.remote_mode", "engineer") or "")
    # held out: the operator's, and no longer the controller's
    assert why("HP3-1.run_command", "operator", frozenset({"HP3-1"})) is None
    assert "held out" in (why("HP3-1.run_command", "controller", frozenset({"HP3-1"})) or "")
    # a controller no longer in charge (silent past the heartbeat timeout) reserves nothing
    assert why("HP3-1.run_command", "operator", in_charge=False) is None
    # what staging does not write stays with the policy
    assert why("PW1.run_command", "operator") is None
    assert why("NET.supply_temp_setpoint", "operator") is None
    assert why("nowhere.run_command", "operator") is None


def test_a_station_without_staging_reserves_nothing() -> None:
    school = load_site(SITES / "deep-borehole-school.yaml")
    assert school.station.staging is None
    assert staged_units(school) == frozenset()
    assert staging_refusal(school, "HP1.run_command", "operator", frozenset(),
                           controller_in_charge=True) is None


def test_the_holds_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    assert spool.staging_holds() == frozenset()
    assert spool.set_staging_hold("HP3-1", True) == {"HP3-1"}
    assert spool.set_staging_hold("HP2-2", True) == {"HP3-1", "HP2-2"}
    assert spool.set_staging_hold("HP3-1", False) == {"HP2-2"}
    spool.close()
    assert Spool(tmp_path / "s.db").staging_holds() == {"HP2-2"}
