"""Private Mosquitto brokers and PostgreSQL clusters for tests and the demo.

Each instance lives in its own directory with its own configuration, listens on 127.0.0.1 only
on its own port, and never touches services that may already run on the machine (a Mosquitto on
1883 or a PostgreSQL on 5432). PostgreSQL refuses to run as root, so when this process is root
the cluster runs as the ``postgres`` OS user.
"""

from __future__ import annotations

import logging
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PG_BIN = Path(os.environ.get("GEOSCADA_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_SHARE = Path(os.environ.get("GEOSCADA_PG_SHARE", "/usr/share/postgresql/15"))
MOSQUITTO = os.environ.get("GEOSCADA_MOSQUITTO", "/usr/sbin/mosquitto")
LOOPBACK = "127.0.0.1"


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file that only its owner can read (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


class ServiceError(RuntimeError):
    """A private service could not be configured, started or stopped."""


# Listening ports come from below the kernel's ephemeral range (32768-60999 on Linux): a port
# from that range can be taken by a client's outgoing connection, or a client reconnecting to a
# stopped broker can TCP self-connect on it, and the restarted service then cannot bind it.
LISTEN_PORTS = range(20000, 32768)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1, below the ephemeral range, that was free a moment ago."""
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise ServiceError(f"no free port between {LISTEN_PORTS.start} and {LISTEN_PORTS.stop - 1}")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((LOOPBACK, port)) == 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def timescaledb_installed() -> bool:
    """Say whether the TimescaleDB extension is installed for this PostgreSQL."""
    return (PG_SHARE / "extension" / "timescaledb.control").is_file()


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener's files; with ``require_certificate`` clients must show one the CA signed."""

    ca: Path
    cert: Path
    key: Path
    require_certificate: bool = True


class Mosquitto:
    """A private Mosquitto broker: own config file, own port, persistence in its directory.

    By default a plain listener with anonymous access, for tests of the data path; ``tls``,
    ``password_file`` and ``acl_file`` turn on what production and the demo use.
    """

    def __init__(
        self,
        workdir: Path,
        port: int = 0,
        *,
        persistence: bool = True,
        users: dict[str, str] | None = None,
        allow_anonymous: bool = True,
        max_inflight_messages: int = 1000,
        max_queued_messages: int = 0,
        tls: BrokerTls | None = None,
        password_file: Path | None = None,
        acl_file: Path | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self._auto_port = port == 0
        self.persistence = persistence
        self.users = dict(users or {})
        self.allow_anonymous = allow_anonymous
        self.max_inflight_messages = max_inflight_messages
        self.max_queued_messages = max_queued_messages
        self.tls = tls
        self.password_file = password_file
        self.acl_file = acl_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker's URL, ``mqtt://127.0.0.1:<port>`` (``mqtts://`` with TLS)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{LOOPBACK}:{self.port}"

    @property
    def config_path(self) -> Path:
        """The broker's configuration file."""
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """The broker's log file."""
        return self.workdir / "mosquitto.log"

    @property
    def running(self) -> bool:
        """Say whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (for tests that freeze it with SIGSTOP)."""
        return self._process.pid if self.running and self._process is not None else None

    def _write_config(self) -> None:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Private GeoSCADA broker; written by geoscada.services, rewritten on every start.",
            f"listener {self.port} {LOOPBACK}",
        ]
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.cert}",
                f"keyfile {self.tls.key}",
                "tls_version tlsv1.2",
                f"require_certificate {'true' if self.tls.require_certificate else 'false'}",
            ]
        lines += [
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {data}/",
            "autosave_interval 1",
            f"max_queued_messages {self.max_queued_messages}",
            "max_queued_bytes 0",
            f"max_inflight_messages {self.max_inflight_messages}",
            "queue_qos0_messages false",
            "set_tcp_nodelay true",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        # As root Mosquitto would switch to the `mosquitto` user, which cannot write a
        # directory made by root; the broker binds only to loopback, so it stays root here.
        if os.geteuid() == 0:
            lines.append("user root")
        if self.users:
            password_file = self.workdir / "passwords"
            plain = "".join(f"{name}:{password}\n" for name, password in self.users.items())
            write_private(password_file, plain.encode())
            # hashed in place from the file: no password on a command line
            subprocess.run(["mosquitto_passwd", "-U", str(password_file)], check=True,
                           capture_output=True)
            lines.append(f"password_file {password_file}")
        elif self.password_file is not None:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            if _port_open(self.port):
                if not self._auto_port:
                    raise ServiceError(f"mosquitto: port {self.port} is already in use")
                self.port = free_port()
                continue
            self._write_config()
            self._process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    break
                if _port_open(self.port):
                    log.info("mosquitto listening on %s", self.url)
                    self._auto_port = False  # restarts keep the port its clients know
                    return
                time.sleep(0.02)
            self.stop(kill=True)
            if not self._auto_port or attempt == 4:
                break
            self.port = free_port()  # someone took the port between probing and binding
        raise ServiceError(
            f"mosquitto did not start on port {self.port}; log {self.log_path}:\n"
            f"{_tail(self.log_path)}"
        )

    def stop(self, kill: bool = False) -> None:
        """Stop the broker (SIGTERM, which saves persistence) or kill it (SIGKILL, no save)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class PostgresCluster:
    """A private PostgreSQL 15 cluster in ``workdir``, with TimescaleDB preloaded if asked."""

    STOP_MODES = ("smart", "fast", "immediate")

    def __init__(self, workdir: Path, port: int = 0, *, timescaledb: bool = True) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self._auto_port = port == 0
        self.timescaledb = timescaledb
        self._as_postgres = os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        """The server log."""
        return self.workdir / "postgresql.log"

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's Unix socket."""
        return self.workdir

    @property
    def dsn(self) -> str:
        """Connection string of the cluster's ``postgres`` database over TCP."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        """Connection string of one database of this cluster."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def _run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *args] if self._as_postgres else args
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise ServiceError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}\nlog {self.log_path}:\n"
                f"{_tail(self.log_path)}"
            )
        return result

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self._as_postgres:
            return
        owner = pwd.getpwnam("postgres")
        os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
        self.workdir.chmod(0o700)
        # PostgreSQL must reach its directory through every parent; pytest's and mkdtemp's
        # private temporary directories are often not traversable by other users.
        probe = subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-w", str(self.workdir)],
            check=False,
        )
        if probe.returncode != 0:
            raise ServiceError(
                f"the postgres user cannot write {self.workdir}: a parent directory is not "
                "traversable by other users; put the cluster under a directory such as /tmp"
            )

    def _write_config(self) -> None:
        if self.timescaledb and not timescaledb_installed():
            raise ServiceError(
                "TimescaleDB is not installed for PostgreSQL 15; run deploy/timescaledb.sh as root"
            )
        settings = {
            "listen_addresses": f"'{LOOPBACK}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "max_connections": "100",
            "shared_buffers": "128MB",
            "max_wal_size": "1GB",
            "log_min_messages": "warning",
            "log_timezone": "'UTC'",
            "timezone": "'UTC'",
            "shared_preload_libraries": "'timescaledb'" if self.timescaledb else "''",
        }
        if self.timescaledb:
            settings["timescaledb.telemetry_level"] = "off"
            settings["timescaledb.max_background_workers"] = "4"
            settings["max_worker_processes"] = "16"
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        conf = self.data_dir / "geoscada.conf"
        conf.write_text("# written by geoscada.services on every start\n" + text)
        if self._as_postgres:
            shutil.chown(conf, "postgres", "postgres")
        main_conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'geoscada.conf'\n"
        if include not in main_conf.read_text():
            with main_conf.open("a") as handle:
                handle.write(include)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D", str(self.data_dir),
                "-U", "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )

    def start(self) -> None:
        """Initialise the cluster if needed, start it and wait until it accepts connections."""
        self._prepare_workdir()
        self._initdb()
        for attempt in range(5):
            if _port_open(self.port):
                if not self._auto_port:
                    raise ServiceError(f"postgresql: port {self.port} is already in use")
                self.port = free_port()
                continue
            self._write_config()
            try:
                self._run(
                    [
                        str(PG_BIN / "pg_ctl"),
                        "-D", str(self.data_dir),
                        "-l", str(self.log_path),
                        "-w", "-t", "60",
                        "start",
                    ]
                )
                log.info("postgresql listening on %s:%d", LOOPBACK, self.port)
                self._auto_port = False  # restarts keep the port its clients know
                return
            except ServiceError as error:
                # Someone took the port between probing and binding (a listener, or a client
                # connection's local port from the same ephemeral range).
                if not self._auto_port or attempt == 4 or "already in use" not in str(error):
                    raise
                self.port = free_port()
        raise ServiceError(f"postgresql: found no free port to listen on (last {self.port})")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``smart``, ``fast`` or ``immediate`` (a crash, WAL replay on start)."""
        if mode not in self.STOP_MODES:
            raise ValueError(f"stop mode {mode!r} is not one of {', '.join(self.STOP_MODES)}")
        if not (self.data_dir / "postmaster.pid").exists():
            return
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    @property
    def running(self) -> bool:
        """Say whether the server accepts TCP connections."""
        return (self.data_dir / "postmaster.pid").exists() and _port_open(self.port)

    def execute(self, statement: str, database: str = "postgres") -> None:
        """Run one administrative SQL statement (autocommit) as the superuser."""
        import psycopg

        with psycopg.connect(self.dsn_for(database), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement.encode())

    def create_database(self, name: str) -> str:
        """Create a database unless it exists (with TimescaleDB when preloaded); return its DSN."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if self.timescaledb:
            with psycopg.connect(self.dsn_for(name), autocommit=True, connect_timeout=10) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its sessions."""
        import psycopg
        from psycopg import sql

        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
