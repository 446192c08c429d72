"""Commands from the UI on the wire: signed like ``geoscada command`` does, published under the
UI's broker identity, and the gateways' acknowledgements (outcome and read-back) kept for the
page that waits for them."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from pydantic import ValidationError

from geoscada.command import sign
from geoscada.pki import Pki
from plant.contract import Command, CommandAck, Topic, subscription, utc_now
from runtime.mqtt import BrokerSettings, ThreadedSession, new_client

log = logging.getLogger(__name__)

LIFETIME_S = 30.0
"""How long a command from the UI stays valid at the gateway."""
KEPT = 500
"""Commands remembered with their acknowledgement, newest last."""


@dataclass
class SentCommand:
    """A command the UI sent and what came back."""

    station: str
    command: Command
    user: str
    sent: datetime
    ack: CommandAck | None = None
    acked: datetime | None = None
    published: bool = field(default=False)

    def view(self) -> dict[str, Any]:
        """The command and its acknowledgement for the page."""
        ack = self.ack
        return {
            "id": self.command.id, "station": self.station, "point": self.command.point,
            "value": self.command.value, "user": self.user, "sent": self.sent.isoformat(),
            "published": self.published,
            "outcome": ack.outcome.value if ack else None,
            "reason": ack.reason if ack else None,
            "readback": ack.readback if ack else None,
            "acked": self.acked.isoformat() if self.acked else None,
        }


class CommandClient:
    """Signs, sends and follows commands; one MQTT connection under the UI's identity."""

    def __init__(self, settings: BrokerSettings, pki_dir: Path, signer: str, *,
                 on_ack: Callable[[SentCommand], None] | None = None) -> None:
        self.pki = Pki(pki_dir)
        self._on_ack = on_ack
        self.signer = signer
        self._sent: OrderedDict[str, SentCommand] = OrderedDict()
        self._lock = threading.Lock()
        self._connected = threading.Event()
        client = new_client(settings, f"{settings.client_id or 'geoscada-ui'}-commands")
        client.on_message = self._on_message
        client.on_disconnect = lambda *_: self._connected.clear()
        self.client = client
        self.session = ThreadedSession(settings, client, on_connect=self._on_connect,
                                       clean_start=True, name="ui-commands")

    def start(self) -> None:
        """Connect, and stay connected, from the session's thread."""
        self.session.start()

    def stop(self) -> None:
        """Disconnect."""
        self.session.stop()

    def wait_connected(self, timeout_s: float) -> bool:
        """Whether the connection (and its acknowledgement subscription) is up."""
        return self._connected.wait(timeout_s)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the UI's command connection: %s", reason)
            return
        client.subscribe(subscription(Topic.ACK), qos=1)
        self._connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            ack = CommandAck.model_validate_json(message.payload)
        except (ValidationError, ValueError):
            return
        with self._lock:
            sent = self._sent.get(ack.id)
            if sent is None or sent.ack is not None:
                return
            sent.ack, sent.acked = ack, utc_now()
        if self._on_ack is not None:
            self._on_ack(sent)

    def send(self, station: str, point: str, value: bool | int | float, user: str
             ) -> SentCommand:
        """Sign and publish a command (QoS 1); raise ValueError (signing) or ConnectionError."""
        if not self.wait_connected(5.0):
            raise ConnectionError("the UI is not connected to the broker")
        name, command = sign(self.pki, self.signer, (station, point, value),
                             lifetime_s=LIFETIME_S, origin=f"ui {user}"[:64], id_prefix="ui")
        sent = SentCommand(station=station, command=command, user=user, sent=utc_now())
        with self._lock:
            self._sent[command.id] = sent
            while len(self._sent) > KEPT:
                self._sent.popitem(last=False)
        info = self.client.publish(name, command.model_dump_json().encode(), qos=1)
        info.wait_for_publish(5.0)
        sent.published = info.is_published()
        if not sent.published:
            raise ConnectionError("the broker did not take the command within 5 s")
        return sent

    def get(self, command_id: str) -> SentCommand | None:
        """A command sent from this UI, with its acknowledgement if one came."""
        with self._lock:
            return self._sent.get(command_id)
