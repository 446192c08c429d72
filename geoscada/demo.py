"""``geoscada demo``: bring up simulated stations and every service built so far on one machine.

Each service runs as its own process, exactly as it would in production: the simulator (the
plant), a private Mosquitto broker, a private PostgreSQL (with TimescaleDB when installed), one
gateway per station, the historian and the controller. The broker is secured as in
production: TLS only, one identity (client certificate and password) per program and an ACL
generated from the site files, all made by ``geoscada pki`` under the work directory; gateways
get a command policy and reach the simulator's OPC UA servers over Basic256Sha256
SignAndEncrypt, trusting only the certificates put in their trust stores. A service that dies
is restarted with backoff; Ctrl-C stops everything in reverse order. All of it listens on
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import yaml

from geoscada.pki import Pki, gateway_identity
from geoscada.services import (
    BrokerTls,
    Mosquitto,
    PostgresCluster,
    ServiceError,
    free_port,
    write_private,
)
from plant.site import OpcUaDevice, Site, SiteFileError, load_site
from simulator.opcua_server import certificate_path

log = logging.getLogger("geoscada.demo")

DEFAULT_SITES = ("sites/hydrothermal-doublet.yaml", "sites/deep-borehole-school.yaml",
                 "sites/shallow-field.yaml")
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
DEMO_USERS = (("operator", "operator"), ("engineer", "engineer"), ("admin", "admin"),
              ("regulator", "regulator"))
"""Demo accounts (name, role); the regulator sees the first station only."""


@dataclass
class Child:
    """A supervised service process."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started: float = field(default=0.0)

    def start(self) -> None:
        """Start (or restart) the process, appending to its log."""
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started = time.monotonic()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the process to stop, then kill it if it does not."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def secure_broker(workdir: Path, stations: Sequence[str], port: int = 0) -> tuple[Mosquitto, Pki]:
    """The demo's broker as production runs it: TLS only, one identity per program, the ACL.

    The CA, certificates, passwords, ACL and command signers are made under ``workdir/pki``.
    """
    pki = Pki(workdir / "pki")
    pki.init(stations, ["localhost", "127.0.0.1"])
    broker = Mosquitto(workdir / "mosquitto", port,
                       tls=BrokerTls(pki.ca_cert, pki.broker_cert, pki.broker_key),
                       allow_anonymous=False, password_file=pki.passwd, acl_file=pki.acl)
    return broker, pki


def broker_args(pki: Pki, identity: str) -> list[str]:
    """Command-line options that connect one identity: files only, never a secret itself."""
    return ["--tls-ca", str(pki.ca_cert), "--tls-cert", str(pki.cert(identity)),
            "--tls-key", str(pki.key(identity)), "--username", identity,
            "--password-file", str(pki.password(identity))]


def write_client_options(pki: Pki, identity: str, port: int) -> Path:
    """Options for ``mosquitto_sub``/``mosquitto_pub`` in a 0600 file they read through
    ``XDG_CONFIG_HOME``, so the password never appears on a command line; return the dir."""
    directory = pki.root / "clients"
    # one option per line: the clients read each line as an option and its value
    options = "".join(f"{line}\n" for line in (
        "-h 127.0.0.1", f"-p {port}", f"--cafile {pki.ca_cert}", f"--cert {pki.cert(identity)}",
        f"--key {pki.key(identity)}", f"-u {identity}",
        f"-P {pki.password(identity).read_text().strip()}"))
    for tool in ("mosquitto_sub", "mosquitto_pub"):
        write_private(directory / tool, options.encode())
    return directory


def secure_opcua_sites(paths: Sequence[str], directory: Path) -> list[str]:
    """Copies of the site files whose OPC UA devices use Basic256Sha256 SignAndEncrypt, as a
    plant's should; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    copies: list[str] = []
    for path in paths:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        for device in data.get("devices", []):
            if device.get("protocol") == "opcua":
                device.update(security_policy="Basic256Sha256", security_mode="SignAndEncrypt")
        copy = directory / Path(path).name
        copy.write_text("# written by geoscada demo: the site file with secure OPC UA\n"
                        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        copies.append(str(copy))
    return copies


def trust_simulator(site: Site, endpoints: dict[str, str], certificates: Path,
                    state_dir: Path) -> None:
    """Put the simulator's OPC UA certificates in a gateway's trust store, as an operator
    installs a server's certificate before the first connection."""
    for device in site.devices:
        if isinstance(device, OpcUaDevice) and device.id in endpoints:
            offered = certificate_path(certificates, site.station.id, endpoints[device.id])
            trusted = state_dir / "opcua-trust" / f"{device.id}.der"
            trusted.parent.mkdir(parents=True, exist_ok=True)
            trusted.write_bytes(offered.read_bytes())


def write_ui_config(directory: Path, *, sites: Sequence[str], stations: Sequence[str],
                    broker: str, pki: Pki, dsn: str, port: int,
                    controller_state_dir: Path) -> tuple[Path, dict[str, str]]:
    """The UI's settings, its own session secret and the demo users with fresh random
    passwords, all under ``directory`` (secrets 0600); return (settings file, credentials)."""
    from ui.auth import Role, User, hash_password, write_users

    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / "session-secret"
    if not secret.exists():
        write_private(secret, secrets.token_hex(32).encode())
    credentials = {name: secrets.token_urlsafe(12) for name, _ in DEMO_USERS}
    write_users(directory / "users.yaml", [
        User(name, Role(role), hash_password(credentials[name]),
             frozenset(stations[:1]) if role == "regulator" else None)
        for name, role in DEMO_USERS])
    write_private(directory / "credentials",
                  "".join(f"{name} {password}\n" for name, password in credentials.items())
                  .encode())
    settings = {
        "sites": [str(Path(path).resolve()) for path in sites],
        "users_file": "users.yaml", "audit_log": "audit.jsonl",
        "session_secret_file": "session-secret",
        "broker": {"url": broker, "username": "ui", "password_file": str(pki.password("ui")),
                   "tls_ca": str(pki.ca_cert), "tls_cert": str(pki.cert("ui")),
                   "tls_key": str(pki.key("ui"))},
        "database": dsn, "listen_host": "127.0.0.1", "listen_port": port,
        "controller_state_dir": str(controller_state_dir), "command_pki": str(pki.root),
    }
    path = directory / "ui.yaml"
    path.write_text("# written by geoscada demo\n" + yaml.safe_dump(settings, sort_keys=False))
    return path, credentials


def speed_refusal(sites: Sequence[Site], speed: float) -> str | None:
    """Why the demo cannot run this fast: a station staged live whose heartbeat would time out
    between two staging cycles (the controller cycles on the wall clock, the station's
    watchdog counts the plant's faster time); None when every staged station keeps it."""
    for site in sites:
        staging, supervision = site.station.staging, site.station.supervision
        if staging is None or supervision is None:
            continue
        plant_s = staging.cycle_s * speed
        if plant_s > supervision.heartbeat_timeout_s / 2:
            return (f"--speed {speed:g}: station {site.station.id} is staged live every "
                    f"{staging.cycle_s:g} s, {plant_s:g} s of the plant's time, more than half "
                    f"its {supervision.heartbeat_timeout_s:g} s heartbeat timeout: it would take "
                    f"its units back between cycles; run it at --speed "
                    f"{supervision.heartbeat_timeout_s / 2 / staging.cycle_s:g} or slower")
    return None


def _postgres_can_reach(directory: Path) -> bool:
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(directory)],
                           capture_output=True, check=False)
    return probe.returncode == 0


def database_dir(workdir: Path) -> Path:
    """Where the demo's PostgreSQL cluster lives: in the work directory when the postgres user
    can reach it, else (a checkout under /root) in a directory of its own under
    /var/lib/geoscada/demo, so no permission of the checkout's parents has to change."""
    if os.geteuid() != 0 or _postgres_can_reach(workdir):
        return workdir / "postgres"
    digest = hashlib.sha256(str(workdir).encode()).hexdigest()[:12]
    base = Path("/var/lib/geoscada")
    for directory in (base, base / "demo", base / "demo" / digest):
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
    return base / "demo" / digest / "postgres"


def _geoscada() -> list[str]:
    return [sys.executable, "-m", "geoscada.cli"]


def _wait_for_file(path: Path, child: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if child.process is not None and child.process.poll() is not None:
            raise ServiceError(f"{child.name} exited with {child.process.returncode}; "
                               f"see {child.log_path}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{child.name} did not write {path} within {timeout_s:.0f} s")
        time.sleep(0.2)


def _note(sites: Sequence[Site], *, endpoints: dict[str, dict[str, str]], broker: str, dsn: str,
          control_port: int, workdir: Path, pki: Pki, clients: Path, database: Path,
          ui_port: int, credentials: dict[str, str]) -> str:
    lines = ["", "GeoSCADA demo is running. What to look at:", "",
             f"  Web UI: http://127.0.0.1:{ui_port}/   users (also in {workdir}/ui/credentials):"]
    roles = dict(DEMO_USERS)
    lines += [f"    {name:<10} {password}   ({roles[name]}"
              f"{', ' + sites[0].station.id + ' only' if roles[name] == 'regulator' else ''})"
              for name, password in credentials.items()]
    lines.append("")
    for site in sites:
        lines.append(f"  station {site.station.id} ({site.station.name})")
        for device, endpoint in endpoints.get(site.station.id, {}).items():
            lines.append(f"    {device:<12} {endpoint}")
    modbus = next(
        (ep for eps in endpoints.values() for ep in eps.values() if not ep.startswith("opc")), None
    )
    lines += ["", "  Plant (simulator):"]
    if modbus:
        host, port = modbus.rsplit(":", 1)
        lines.append(f"    mbpoll -m tcp -0 -1 -a 1 -t 3:float -B -r 0 -c 10 -p {port} {host}"
                     "   # first station's well PLC, docs/register-map.md")
    lines += [
        f"    curl http://127.0.0.1:{control_port}/stations/<station>/values   # live plant values",
        "", "  MQTT:",
        f"    {broker}: TLS only, one identity per program, ACL {pki.acl}",
        f"    XDG_CONFIG_HOME={clients} mosquitto_sub -t 'geoscada/v1/#' -v"
        "   # as the read-only regulator identity",
        f"    CA, certificates, passwords (0600): {pki.root}   command signers: "
        f"{pki.root / 'signers'}   policy: {pki.policy}",
        "", "  Commands (signed by the operator's key, sent as the ui identity):",
        f"    .venv/bin/geoscada command --pki {pki.root} --broker {broker} "
        f"{sites[0].station.id} <point> <value>",
        "", "  Historian:",
        f"    psql '{dsn}' -c 'select count(*) from samples'",
        f"    .venv/bin/geoscada query --db '{dsn}' last <station>",
        f"    database directory: {database}",
        "", f"  Logs: {workdir}/logs/   Stop: Ctrl-C", "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Run the demo until interrupted (or for --duration seconds)."""
    parser = argparse.ArgumentParser(prog="geoscada demo", description=__doc__)
    parser.add_argument("sites", nargs="*", default=list(DEFAULT_SITES), metavar="SITE.yaml")
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"))
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per wall-clock second")
    parser.add_argument("--broker-port", type=int, default=18830)
    parser.add_argument("--db-port", type=int, default=15432)
    parser.add_argument("--control-port", type=int, default=18080)
    parser.add_argument("--modbus-port", type=int, default=15020,
                        help="first station's Modbus port; station i gets this + i")
    parser.add_argument("--opcua-port", type=int, default=14840,
                        help="first station's OPC UA port; station i gets this + i")
    parser.add_argument("--ui-port", type=int, default=18480)
    parser.add_argument("--duration", type=float, default=0.0,
                        help="stop by itself after this many seconds (0: run until Ctrl-C)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s demo %(message)s")

    try:
        sites = [load_site(path) for path in args.sites]
    except SiteFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    too_fast = speed_refusal(sites, args.speed)
    if too_fast is not None:
        print(f"error: {too_fast}", file=sys.stderr)
        return 2
    workdir: Path = args.workdir.resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)

    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    def port_or_free(port: int) -> int:
        return port if port and _port_free(port) else free_port()

    stations = [site.station.id for site in sites]
    broker, pki = secure_broker(workdir, stations, port_or_free(args.broker_port))
    database = PostgresCluster(database_dir(workdir), port_or_free(args.db_port))
    children: list[Child] = []
    try:
        broker.start()
        log.info("broker at %s", broker.url)
        database.start()
        dsn = database.create_database("geoscada")
        log.info("database at %s", dsn)

        endpoints_file = workdir / "endpoints.json"
        endpoints_file.unlink(missing_ok=True)
        control_port = port_or_free(args.control_port)
        certificates = workdir / "simulator-certificates"
        sim = Child("simulator", [
            *_geoscada(), "sim", *args.sites, "--speed", str(args.speed),
            "--modbus-port", str(args.modbus_port), "--opcua-port", str(args.opcua_port),
            "--control-port", str(control_port), "--endpoints-out", str(endpoints_file),
            "--certificate-dir", str(certificates),
        ], workdir / "logs" / "simulator.log")
        sim.start()
        children.append(sim)
        _wait_for_file(endpoints_file, sim, timeout_s=180)
        endpoints: dict[str, dict[str, str]] = json.loads(endpoints_file.read_text())

        secure_sites = secure_opcua_sites(args.sites, workdir / "sites")
        for path, site in zip(secure_sites, sites, strict=True):
            station = site.station.id
            trust_simulator(site, endpoints.get(station, {}), certificates,
                            workdir / "gateway" / station)
            children.append(Child(f"gateway {station}", [
                *_geoscada(), "gateway", path, "--broker", broker.url,
                *broker_args(pki, gateway_identity(station)),
                "--command-policy", str(pki.policy),
                "--endpoints-file", str(endpoints_file),
                "--state-dir", str(workdir / "gateway" / station),
            ], workdir / "logs" / f"gateway-{station}.log"))
        children.append(Child("historian", [
            *_geoscada(), "historian", "--broker", broker.url, "--db", dsn,
            *broker_args(pki, "historian"),
        ], workdir / "logs" / "historian.log"))
        children.append(Child("controller", [
            *_geoscada(), "controller", *(f"--site={path}" for path in args.sites),
            "--broker", broker.url, "--db", dsn, "--state-dir", str(workdir / "controller"),
            *broker_args(pki, "controller"), "--signer-key", str(pki.signer("controller")),
        ], workdir / "logs" / "controller.log"))
        ui_port = port_or_free(args.ui_port)
        ui_config, credentials = write_ui_config(
            workdir / "ui", sites=args.sites, stations=stations, broker=broker.url, pki=pki,
            dsn=dsn, port=ui_port, controller_state_dir=workdir / "controller")
        children.append(Child("ui", [*_geoscada(), "ui", "serve", "--config", str(ui_config)],
                              workdir / "logs" / "ui.log"))
        for child in children[1:]:
            child.start()
        clients = write_client_options(pki, "regulator", broker.port)
        print(_note(sites, endpoints=endpoints, broker=broker.url, dsn=dsn,
                    control_port=control_port, workdir=workdir, pki=pki, clients=clients,
                    database=database.workdir, ui_port=ui_port, credentials=credentials),
              flush=True)
        _supervise(children, args.duration, lambda: stopping)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            child.stop()
        database.stop()
        broker.stop()
    return 0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _supervise(children: list[Child], duration_s: float, stopping: Callable[[], bool]) -> None:
    """Restart children that die, with backoff, until stopped or the duration ends."""
    deadline = time.monotonic() + duration_s if duration_s > 0 else float("inf")
    while not stopping() and time.monotonic() < deadline:
        now = time.monotonic()
        for child in children:
            process = child.process
            if process is None or process.poll() is None:
                continue
            if child.next_start == 0.0:
                delay = RESTART_BACKOFF_S[min(child.restarts, len(RESTART_BACKOFF_S) - 1)]
                if now - child.started > 60:
                    child.restarts = 0
                log.warning("%s exited with %s; restarting in %.0f s (log: %s)",
                            child.name, process.returncode, delay, child.log_path)
                child.next_start = now + delay
            elif now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                child.start()
        time.sleep(0.5)
