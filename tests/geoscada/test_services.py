"""Private Mosquitto and PostgreSQL instances: start, persist across restarts, stop."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from geoscada.services import Mosquitto, PostgresCluster, ServiceError, free_port

pytestmark = pytest.mark.integration


def _client(broker: Mosquitto, client_id: str, **credentials: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    if credentials:
        client.username_pw_set(credentials["username"], credentials["password"])
    return client


def _connect_persistent(client: mqtt.Client, broker: Mosquitto) -> None:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", broker.port, clean_start=False, properties=properties)


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535


def test_mosquitto_keeps_a_persistent_session_across_a_restart(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        subscriber = _client(broker, "historian-test")
        _connect_persistent(subscriber, broker)
        subscriber.loop_start()
        subscribed = threading.Event()
        subscriber.on_subscribe = lambda *args: subscribed.set()
        subscriber.subscribe("geoscada/v1/+/data", qos=1)
        assert subscribed.wait(5)
        subscriber.disconnect()
        subscriber.loop_stop()

        publisher = _client(broker, "publisher")
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        infos = [publisher.publish("geoscada/v1/s1/data", f"m{i}", qos=1) for i in range(50)]
        for info in infos:
            info.wait_for_publish(5)
        publisher.disconnect()
        publisher.loop_stop()

        broker.stop()
        broker.start()

        received: list[bytes] = []
        done = threading.Event()

        def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
            received.append(bytes(message.payload))
            if len(received) == 50:
                done.set()

        again = _client(broker, "historian-test")
        again.on_message = on_message
        _connect_persistent(again, broker)
        again.loop_start()
        assert done.wait(10), f"only {len(received)} of 50 queued messages survived the restart"
        again.disconnect()
        again.loop_stop()
        assert received == [f"m{i}".encode() for i in range(50)]
    finally:
        broker.stop()


def test_mosquitto_with_a_password_file_refuses_strangers(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", users={"gateway": "s3cret"}, allow_anonymous=False)
    with broker:
        good = _client(broker, "good", username="gateway", password="s3cret")
        assert good.connect("127.0.0.1", broker.port) == mqtt.MQTT_ERR_SUCCESS
        codes: list[int] = []
        connected = threading.Event()

        def on_connect(client: mqtt.Client, *args: object) -> None:
            codes.append(int(args[2].value))  # type: ignore[attr-defined]
            connected.set()

        bad = _client(broker, "bad", username="gateway", password="wrong")
        bad.on_connect = on_connect
        bad.connect("127.0.0.1", broker.port)
        bad.loop_start()
        assert connected.wait(5)
        bad.loop_stop()
        good.disconnect()
        assert codes and codes[0] != 0


def test_mosquitto_refuses_a_fixed_port_in_use(tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "first") as first:
        second = Mosquitto(tmp_path / "second", port=first.port)
        with pytest.raises(ServiceError, match="already in use"):
            second.start()


@pytest.mark.slow
def test_plain_postgres_cluster_keeps_committed_rows_across_a_crash(service_root: Path) -> None:
    cluster = PostgresCluster(service_root / "pg-crash", timescaledb=False)
    cluster.start()
    try:
        dsn = cluster.create_database("plant")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t SELECT generate_series(1, 1000)")
            fsync = conn.execute("SHOW fsync").fetchone()
            listen = conn.execute("SHOW listen_addresses").fetchone()
        assert fsync == ("on",)
        assert listen == ("127.0.0.1",)
        cluster.stop("immediate")
        assert not cluster.running
        cluster.start()
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1000,)
    finally:
        cluster.stop()


def test_database_fixture_gives_a_fresh_database(database: str, postgres: PostgresCluster) -> None:
    with psycopg.connect(database) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        extensions = {
            row[0] for row in conn.execute("SELECT extname FROM pg_extension").fetchall()
        }
    assert tables == (0,)
    assert ("timescaledb" in extensions) == postgres.timescaledb


def test_create_database_twice_returns_the_same_database(postgres: PostgresCluster) -> None:
    first = postgres.create_database("twice")
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
    assert postgres.create_database("twice") == first
    with psycopg.connect(first) as conn:
        assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
    postgres.drop_database("twice")


def test_unknown_stop_mode_is_refused(postgres: PostgresCluster) -> None:
    with pytest.raises(ValueError, match="stop mode 'abrupt'"):
        postgres.stop("abrupt")
