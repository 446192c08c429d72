"""Typed settings of one historian process."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MQTT_PORT = 1883


class BrokerAddress(BaseModel):
    """Host and port of an MQTT broker, parsed from ``mqtt://host:port``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://host[:port]``; raise ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"broker URL {url!r} must start with mqtt://")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    try:
        port = parts.port or DEFAULT_MQTT_PORT
    except ValueError:
        raise ValueError(f"broker URL {url!r} has an invalid port") from None
    return BrokerAddress(host=parts.hostname, port=port)


class HistorianSettings(BaseModel):
    """Everything one historian process needs; validated before anything starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str
    db: str
    client_id: Annotated[str, Field(min_length=1, max_length=64)] = "geoscada-historian"
    group: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    """Shared-subscription group: historians in one group split the data stream."""
    username: str | None = None
    password: str | None = None
    session_expiry_s: Annotated[int, Field(ge=0)] = 7 * 24 * 3600
    receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 5000
    batch_max_messages: Annotated[int, Field(ge=1)] = 2000
    batch_max_samples: Annotated[int, Field(ge=1)] = 50_000
    batch_max_wait_s: Annotated[float, Field(ge=0, le=60)] = 0.02
    rollup_interval_s: Annotated[float, Field(gt=0)] = 2.0
    max_hold_s: Annotated[float, Field(gt=0)] = 900.0
    raw_retention_days: Annotated[float, Field(gt=0)] | None = None
    retry_max_s: Annotated[float, Field(gt=0)] = 10.0
    stats_interval_s: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @field_validator("db")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")) and "=" not in value:
            raise ValueError("db must be a postgresql:// URL or a libpq key=value string")
        return value

    @property
    def broker_address(self) -> BrokerAddress:
        """The broker's host and port."""
        return parse_broker_url(self.broker)
