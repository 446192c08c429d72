import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from iapws import IAPWS97

from plant.models.water import (
    density_kg_m3,
    flow_for_heat_m3h,
    heat_power_kw,
    specific_heat_kj_per_kgk,
)

TEMPS = [0.5, 5.0, 20.0, 40.0, 60.0, 80.0, 95.0, 120.0, 150.0]


# liquid states only: 150 °C at 0.2 MPa is steam, not a heating circuit's water
LIQUID = [(t, p) for p in (0.2, 0.6, 1.0) for t in TEMPS if IAPWS97(T=t + 273.15, P=p).region == 1]


@pytest.mark.parametrize(("temp_c", "pressure_mpa"), LIQUID)
def test_density_and_heat_capacity_agree_with_iapws_if97(temp_c: float, pressure_mpa: float) -> None:
    water = IAPWS97(T=temp_c + 273.15, P=pressure_mpa)
    assert density_kg_m3(temp_c) == pytest.approx(water.rho, rel=1e-3)
    assert specific_heat_kj_per_kgk(temp_c) == pytest.approx(water.cp, rel=1e-3)


def test_vectorised_returns_array_and_scalar_returns_float() -> None:
    temps = np.array(TEMPS)
    rho = density_kg_m3(temps)
    assert isinstance(rho, np.ndarray) and rho.shape == temps.shape
    assert isinstance(density_kg_m3(20.0), float)
    assert rho[1] == density_kg_m3(5.0)


def test_heat_power_against_enthalpy_difference() -> None:
    # independent: mass flow at the return meter times the IAPWS enthalpy difference
    flow, supply, back = 65.0, 60.0, 45.0
    rho = IAPWS97(T=back + 273.15, P=0.4).rho
    dh = IAPWS97(T=supply + 273.15, P=0.4).h - IAPWS97(T=back + 273.15, P=0.4).h
    assert heat_power_kw(flow, supply, back) == pytest.approx(flow / 3600 * rho * dh, rel=1e-3)


def test_meter_position_changes_density_only() -> None:
    at_return = heat_power_kw(10.0, 80.0, 50.0, meter_at="return")
    at_supply = heat_power_kw(10.0, 80.0, 50.0, meter_at="supply")
    assert at_return / at_supply == pytest.approx(density_kg_m3(50.0) / density_kg_m3(80.0))


@given(
    st.floats(0.1, 2000.0),
    st.floats(5.0, 130.0),
    st.floats(-40.0, 40.0).filter(lambda d: abs(d) > 0.01),
)
def test_heat_is_antisymmetric_and_round_trips_through_flow(flow: float, supply: float, dt: float) -> None:
    back = min(max(supply - dt, 1.0), 149.0)
    if abs(supply - back) < 0.01:
        return
    q = heat_power_kw(flow, supply, back)
    assert np.sign(q) == np.sign(supply - back)
    assert flow_for_heat_m3h(q, supply, back) == pytest.approx(flow, rel=1e-9)


def test_flow_for_heat_refuses_zero_delta() -> None:
    with pytest.raises(ValueError, match="equal"):
        flow_for_heat_m3h(100.0, 40.0, 40.0)


def test_one_sample_heat_is_bit_identical_to_the_array_path() -> None:
    """One sample in plain floats gives exactly the array's element, at either meter position."""
    flows = np.array([0.0, 0.013, 1.0, 37.5, 410.0, 2500.0])
    temps = np.arange(0.5, 150.0, 3.7)
    flow, supply, back = (a.ravel() for a in np.meshgrid(flows, temps, temps))
    for meter_at in ("return", "supply"):
        array = heat_power_kw(flow, supply, back, meter_at)
        for i in range(flow.size):
            one = heat_power_kw(float(flow[i]), float(supply[i]), float(back[i]), meter_at)
            assert type(one) is float
            assert one == array[i], (flow[i], supply[i], back[i], meter_at)
