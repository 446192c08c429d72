"""Decoding MQTT payloads: contract messages pass, everything else gets a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from historian.decode import Batch, Rejected, _fast_batch, decode
from historian.synthetic import StationFeed
from plant.contract import MAX_PAYLOAD_BYTES, Birth, DataBatch, Death, Quality, Reason

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
DATA = "geoscada/v1/st1/data"


def _batch_document() -> dict[str, object]:
    feed = StationFeed("st1", analogues=2, meters=1)
    document: dict[str, object] = json.loads(feed.batch().model_dump_json())
    return document


def test_a_contract_batch_decodes() -> None:
    payload = json.dumps(_batch_document()).encode()
    decoded = decode(DATA, payload, NOW)
    assert isinstance(decoded, Batch)
    assert decoded.station == "st1" and len(decoded.samples) == 3


def test_birth_and_death_decode() -> None:
    feed = StationFeed("st1")
    birth = decode("geoscada/v1/st1/birth", feed.birth().model_dump_json().encode(), NOW)
    death = decode("geoscada/v1/st1/death", b'{"station": "st1", "session": 1, "bdseq": 1}', NOW)
    assert isinstance(birth, Birth) and isinstance(death, Death)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("geoscada/v1/st1/data", b"", "not JSON"),
        ("geoscada/v1/st1/data", b"\xff\xfe{}", "not UTF-8"),
        ("geoscada/v1/st1/data", b"[1, 2]", "JSON list, not an object"),
        ("geoscada/v1/st1/data", b'{"station": "st1"}', "session: Field required"),
        ("geoscada/v2/st1/data", b"{}", "is not under geoscada/v1"),
        ("geoscada/v1/st1/rebirth", b"{}", "does not take 'rebirth'"),
        ("geoscada/v1/st1/data", b'{"station": "st2", "session": 1, "seq": 0, "samples": []}',
         "differs from topic station"),
        ("geoscada/v1/st1/data",
         b'{"station": "st1", "session": 1, "seq": 0, "samples": [{"p": "x", "t": '
         b'"2026-01-15T00:00:00Z", "v": 1' + b"0" * 400 + b"}]}",
         "integer too large"),
        ("geoscada/v1/st1/data",
         b'{"station": "st1", "session": 1, "seq": 0, "samples": [{"p": "x", "t": '
         b'"1970-01-01T00:00:00Z", "v": 1}]}',
         "outside 1990"),
        ("geoscada/v1/st1/data",
         b'{"station": "st1", "session": 1, "seq": 0, "samples": [{"p": "x", "t": '
         b'"2026-01-15T00:00:00", "v": 1}]}',
         "timezone"),
        ("geoscada/v1/st1/data",
         b'{"station": "st1", "session": 1, "seq": 0, "samples": [{"p": "x\\u0000", "t": '
         b'"2026-01-15T00:00:00Z", "v": 1}]}',
         "NUL"),
        ("geoscada/v1/st1/data", b'{"station": "\\ud800"}', "surrogate"),
        ("geoscada/v1/st1/data", b"[" * 100_000, "not JSON"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(topic: str, payload: bytes, reason: str) -> None:
    decoded = decode(topic, payload, NOW)
    assert isinstance(decoded, Rejected)
    assert reason in decoded.reason


def test_oversized_payload_is_rejected_before_parsing() -> None:
    decoded = decode(DATA, b" " * (MAX_PAYLOAD_BYTES + 1), NOW)
    assert isinstance(decoded, Rejected) and "exceeds" in decoded.reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_never_raises_on_arbitrary_bytes(payload: bytes) -> None:
    decoded = decode(DATA, payload, NOW)
    assert isinstance(decoded, Rejected | Batch)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_every_truncation_of_a_batch_is_rejected(cut: int) -> None:
    payload = json.dumps(_batch_document()).encode()
    cut = cut % len(payload)
    decoded = decode(DATA, payload[:cut], NOW)
    assert isinstance(decoded, Rejected)


samples = st.builds(
    lambda p, seconds, v, q, r, d: {
        "p": p, "t": (NOW - timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "v": v, "q": q, **({"r": r} if r else {}), **({"d": d} if d is not None else {}),
    },
    st.text(min_size=1, max_size=96).filter(lambda p: "\x00" not in p),
    st.integers(min_value=0, max_value=10**8),
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53),
              st.floats(allow_nan=False, allow_infinity=False)),
    st.sampled_from([q.value for q in Quality]),
    st.one_of(st.none(), st.sampled_from([r.value for r in Reason])),
    st.one_of(st.none(), st.text(max_size=200).filter(lambda d: "\x00" not in d)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2**40), st.integers(0, 2**40), st.booleans(), st.lists(samples, max_size=5),
    st.sampled_from(["as_is", "session_as_text", "extra_key"]),
)
def test_the_fast_path_agrees_with_the_contract_models(
    session: int, seq: int, historical: bool, items: list[dict[str, object]], variant: str
) -> None:
    document: dict[str, object] = {
        "station": "st1", "session": session, "seq": seq, "historical": historical,
        "samples": items,
    }
    if variant == "session_as_text":
        document["session"] = str(session)  # lax pydantic accepts it; the fast path defers
    if variant == "extra_key":
        document["extra"] = 1
    payload = json.dumps(document).encode()
    decoded = decode(DATA, payload, NOW)
    try:
        expected: Batch | None = Batch.from_contract(DataBatch.model_validate_json(payload))
    except ValueError:
        expected = None
    if expected is None:
        assert isinstance(decoded, Rejected)
    else:
        assert decoded == expected


def test_the_fast_path_takes_unknown_fields_and_the_wire_types_stay_strict() -> None:
    """A newer gateway's extra fields never cost the fast path; loose types are refused."""
    sample = {"p": "PW1.flow", "t": "2026-01-15T06:00:00.250000Z", "v": 85, "q": "good",
              "unit_hint": "m3/h"}
    document = {"station": "st1", "session": 3, "seq": 7, "samples": [sample], "gateway_v": 2}
    fast = _fast_batch(document)
    assert fast is not None
    assert fast == Batch.from_contract(DataBatch.model_validate(document))
    for field, loose in (("v", "85"), ("t", 1768456800), ("q", 0)):
        payload = json.dumps({**document, "samples": [{**sample, field: loose}]}).encode()
        decoded = decode(DATA, payload, NOW)
        assert isinstance(decoded, Rejected), (field, loose)
        assert f"samples.0.{field}" in decoded.reason
    decoded = decode(DATA, json.dumps({**document, "seq": "7"}).encode(), NOW)
    assert isinstance(decoded, Rejected) and "seq" in decoded.reason
    decoded = decode(DATA, json.dumps({**document, "seq": 2**63}).encode(), NOW)
    assert isinstance(decoded, Rejected) and "2**63" in decoded.reason
