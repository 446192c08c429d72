"""The MQTT contract: topics, payload validation and the JSON Schema files kept in docs/."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gateway.schema_docs import SCHEMA_DIR, rendered
from plant.contract import (
    Command,
    DataBatch,
    Quality,
    Reason,
    Sample,
    Topic,
    parse_topic,
    subscription,
    topic,
)

T0 = datetime(2026, 1, 15, 6, 0, 0, 250000, tzinfo=UTC)


def test_schema_files_match_the_models() -> None:
    for name, text in rendered().items():
        path = SCHEMA_DIR / name
        assert path.exists(), f"{path} missing: run python -m gateway.schema_docs"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is out of date: run python -m gateway.schema_docs"
        )


def test_topic_round_trip() -> None:
    for kind in Topic:
        assert parse_topic(topic("dq-1", kind)) == ("dq-1", kind)
    assert subscription(Topic.DATA) == "geoscada/v1/+/data"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("geoscada/v2/s/data", "not under geoscada/v1"),
        ("geoscada/v1/s/telemetry", "unknown kind 'telemetry'"),
        ("geoscada/v1//data", "empty station id"),
        ("geoscada/v1/s/cmd/extra", "not under geoscada/v1"),
    ],
)
def test_bad_topics_are_named(name: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_topic(name)


def test_batch_round_trips_through_json() -> None:
    batch = DataBatch(
        station="s", session=7, seq=3, samples=(
            Sample(p="PW1.flow", t=T0, v=88.5),
            Sample(p="PW1.run_state", t=T0, v=True),
            Sample(p="PW1.level", t=T0, v=None, q=Quality.BAD, r=Reason.TIMEOUT),
        ),
    )
    again = DataBatch.model_validate_json(batch.model_dump_json())
    assert again == batch
    assert again.samples[1].v is True


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="finite"):
        Sample(p="x", t=T0, v=float("nan"))


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError):
        Command(id="c1", point="p", value=1.0, origin="op", issued=datetime(2026, 1, 1),
                expires=datetime(2026, 1, 1))
