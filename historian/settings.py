"""Typed settings of one historian process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runtime.mqtt import BrokerSettings

DEFAULT_MQTT_PORT = 1883
SESSION_EXPIRY_S = 7 * 24 * 3600
GROUP_SESSION_EXPIRY_S = 3


class BrokerAddress(BaseModel):
    """Host and port of an MQTT broker, parsed from ``mqtt://host:port``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://host[:port]`` or ``mqtts://host[:port]``; raise ValueError naming it."""
    settings = BrokerSettings.from_url(url)
    return BrokerAddress(host=settings.host, port=settings.port)


class HistorianSettings(BaseModel):
    """Everything one historian process needs; validated before anything starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str
    db: str
    client_id: Annotated[str, Field(min_length=1, max_length=64)] = "geoscada-historian"
    group: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    """Shared-subscription group: historians in one group split the data stream."""
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    tls_ca: Path | None = None
    """CA certificate that signed the broker's (``mqtts://``); the system's CAs without it."""
    tls_cert: Path | None = None
    """Client certificate (PEM), for a broker that asks for one; goes with ``tls_key``."""
    tls_key: Path | None = None
    session_expiry_s: Annotated[int, Field(ge=0)] | None = None
    """How long the broker keeps this historian's session (and queues for it) while it is away.

    Alone, 7 days: a restart takes up where it stopped. In a group, 3 s: the broker keeps
    dealing a shared subscription's messages to an absent member's session, so a member that
    died would sit on its share until the session expires; the gateways resend what no
    watermark confirms, so nothing is lost by letting it expire soon.
    """
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

    @field_validator("tls_cert", "tls_key", "tls_ca")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @property
    def session_expiry(self) -> int:
        """The session expiry to ask for (see ``session_expiry_s``)."""
        if self.session_expiry_s is not None:
            return self.session_expiry_s
        return GROUP_SESSION_EXPIRY_S if self.group else SESSION_EXPIRY_S

    @property
    def broker_address(self) -> BrokerAddress:
        """The broker's host and port."""
        return parse_broker_url(self.broker)

    @property
    def broker_settings(self) -> BrokerSettings:
        """How to reach the broker, in the shared runtime's terms."""
        return BrokerSettings.from_url(
            self.broker, client_id=self.client_id, username=self.username,
            password=self.password, tls_ca=self.tls_ca, tls_cert=self.tls_cert,
            tls_key=self.tls_key)
