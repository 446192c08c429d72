"""Units: every measurand's quantity has units, and OPC UA unit ids follow the UNECE packing."""

from __future__ import annotations

from plant.measurands import QUANTITY, Measurand
from plant.units import UNITS, opcua_unit_id, quantity_of, units_of


def test_unit_ids_follow_the_unece_packing() -> None:
    assert opcua_unit_id("CEL") == 4408652  # OPC UA Part 8 example for degree Celsius
    assert opcua_unit_id("KWT") == (ord("K") << 16) | (ord("W") << 8) | ord("T")


def test_every_measurand_has_a_unit_and_every_unit_one_quantity() -> None:
    assert set(QUANTITY) == set(Measurand)
    for measurand, quantity in QUANTITY.items():
        assert units_of(quantity), f"{measurand} has no unit"
    for unit in UNITS:
        assert unit in units_of(quantity_of(unit))
