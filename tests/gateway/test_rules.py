"""Pure gateway rules: ranges, deadbands, command checks, backoff, endpoints, batch payloads."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.commands import CommandRefusedError, Refusal, check_command, confirms, parse_command
from gateway.config import EndpointError, parse_override, with_endpoints
from gateway.forwarder import batch_payload, encode_samples
from gateway.modbus_codec import decode, encode
from gateway.quality import Reading, ReportFilter, checked, range_quality
from plant.contract import Command, DataBatch, Quality, Reason
from plant.site import Point, Site
from runtime.backoff import Backoff

NOW = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "quality"),
    [(0.0, Quality.GOOD), (120.0, Quality.GOOD), (125.0, Quality.UNCERTAIN),
     (-12.0, Quality.UNCERTAIN), (133.0, Quality.BAD), (-13.0, Quality.BAD)],
)
def test_range_rule(site: Site, value: float, quality: Quality) -> None:
    q, reason, _ = range_quality(site.point("PW1.wellhead_temp"), value)  # range 0..120
    assert q is quality
    assert (reason is Reason.OUT_OF_RANGE) == (quality is not Quality.GOOD)


def test_out_of_range_keeps_the_value_read(site: Site) -> None:
    reading = checked(site.point("PW1.wellhead_temp"), Reading("PW1.wellhead_temp", 1.0, 500.0))
    assert reading.q is Quality.BAD and reading.v == 500.0 and reading.r is Reason.OUT_OF_RANGE


def test_report_by_exception_with_full_refresh() -> None:
    rf = ReportFilter({"a": 0.5}, full_refresh_s=10)
    due = [rf.due(Reading("a", t, v)) for t, v in
           [(0, 1.0), (1, 1.4), (2, 1.6), (3, 1.2), (4, 1.2), (13, 1.2)]]
    assert due == [True, False, True, False, False, True]
    assert rf.due(Reading("a", 14, None, Quality.BAD, Reason.TIMEOUT))
    assert not rf.due(Reading("a", 15, None, Quality.BAD, Reason.TIMEOUT))
    assert rf.due(Reading("a", 16, None, Quality.BAD, Reason.COMM_LOST))


@given(st.floats(min_value=-3000, max_value=3000, allow_nan=False))
def test_int16_encode_decode_round_trip(value: float) -> None:
    point = Point.model_validate({
        "id": "X.t", "equipment": "X", "measurand": "supply_temp_setpoint", "unit": "degC",
        "range": [-3300, 3300], "writable": True, "limits": {"min": -3300, "max": 3300},
        "binding": {"protocol": "modbus", "device": "d", "table": "holding_register",
                    "address": 0, "type": "int16", "scale": 0.1, "word_order": "little"}})
    assert confirms(point, value, decode(point, encode(point, value)))


def make_command(point: str, value: float | bool, expires_in: float = 30) -> Command:
    return Command(id="c1", point=point, value=value, origin="op", issued=NOW,
                   expires=NOW + timedelta(seconds=expires_in))


@pytest.mark.parametrize(
    ("point", "value", "current", "expires_in", "refusal"),
    [
        ("PW1.speed_setpoint", 45.0, 40.0, 30, None),
        ("PW1.speed_setpoint", 51.0, 45.0, 30, Refusal.OUT_OF_LIMITS),
        ("PW1.speed_setpoint", 19.0, 25.0, 30, Refusal.OUT_OF_LIMITS),
        ("PW1.speed_setpoint", 45.0, 30.0, 30, Refusal.STEP_TOO_LARGE),
        ("PW1.speed_setpoint", 45.0, None, 30, Refusal.STEP_TOO_LARGE),
        ("PW1.speed_setpoint", 45.0, 40.0, 0, Refusal.EXPIRED),
        ("PW1.speed_setpoint", True, 40.0, 30, Refusal.WRONG_TYPE),
        ("PW1.run_command", 1.0, False, 30, Refusal.WRONG_TYPE),
        ("PW1.run_command", True, False, 30, None),
        ("PW1.flow", 10.0, 5.0, 30, Refusal.NOT_WRITABLE),
        ("PW7.flow", 10.0, 5.0, 30, Refusal.UNKNOWN_POINT),
    ],
)
def test_command_checks(site: Site, point: str, value: float | bool, current: float | None,
                        expires_in: float, refusal: Refusal | None) -> None:
    command = make_command(point, value, expires_in)
    target = site.points_by_id.get(point)
    if refusal is None:
        check_command(command, target, NOW, current)
        return
    with pytest.raises(CommandRefusedError) as caught:
        check_command(command, target, NOW, current)
    assert caught.value.code is refusal and str(caught.value).startswith(refusal.value)


@pytest.mark.parametrize(
    ("raw", "ident", "fragment"),
    [
        (b"\xff\xfe", None, "not JSON"),
        (b"{", None, "not JSON"),
        (b"17", None, "(payload)"),
        (b'{"id": "c9", "point": "P"}', "c9", "value"),
        (b'{"id": "c9", "point": "P", "value": 1, "origin": "o", "issued": "2026-01-01T00:00:00",'
         b' "expires": "2026-01-01T00:00:00Z"}', "c9", "issued"),
        (b'{"id": "c9", "point": "P", "value": 1, "origin": "o", "issued": "2026-01-01T00:00:00Z",'
         b' "expires": "2026-01-01T00:00:00Z", "extra": 1}', "c9", "extra"),
    ],
)
def test_malformed_commands_name_the_problem(raw: bytes, ident: str | None, fragment: str) -> None:
    with pytest.raises(CommandRefusedError) as caught:
        parse_command(raw)
    assert caught.value.code is Refusal.MALFORMED
    assert caught.value.command_id == ident
    assert fragment in str(caught.value)


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, jitter_ratio=0.5, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_endpoint_overrides(site: Site) -> None:
    moved = with_endpoints(site, dict([parse_override("plc1=10.0.0.5:1502"),
                                       parse_override("opc1=opc.tcp://10.0.0.6:4841/x")]))
    assert moved.device("plc1").port == 1502  # type: ignore[union-attr]
    assert moved.device("opc1").endpoint == "opc.tcp://10.0.0.6:4841/x"  # type: ignore[union-attr]
    for bad, fragment in [({"plc9": "h:1"}, "unknown device 'plc9'"),
                          ({"plc1": "nohost"}, "HOST:PORT"),
                          ({"opc1": "10.0.0.6:4841"}, "opc.tcp://")]:
        with pytest.raises(EndpointError, match=fragment):
            with_endpoints(site, bad)
    with pytest.raises(EndpointError, match="DEVICE="):
        parse_override("plc1")


def test_batch_payload_matches_the_contract() -> None:
    samples = encode_samples([Reading("a", 1.5, 2.5), Reading("b", 1.5, None, Quality.BAD,
                                                              Reason.TIMEOUT, "no answer")])
    batch = DataBatch.model_validate_json(batch_payload("s", 7, 3, True, samples))
    assert batch.historical and batch.seq == 3 and batch.samples[1].r is Reason.TIMEOUT
    assert batch.samples[0].t.timestamp() == 1.5
