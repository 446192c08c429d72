"""Versioned schema migrations, applied on start under an advisory lock, and feature detection."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

# Any two historians (or a historian and `geoscada query --migrate`) serialise on this lock.
MIGRATION_LOCK = 0x6765_6F73_6361_6461  # "geoscada" as eight ASCII bytes, as a bigint key

QUALITY_CODES = {"good": 0, "uncertain": 1, "bad": 2}
BAD = QUALITY_CODES["bad"]
UNCERTAIN = QUALITY_CODES["uncertain"]
REASON_CODES = {
    "timeout": 1,
    "exception_code": 2,
    "out_of_range": 3,
    "stale": 4,
    "comm_lost": 5,
    "decode_error": 6,
    "sensor_fault": 7,
    "not_connected": 8,
    "config_error": 9,
    "device_status": 10,
}

ROLLUP_LEVELS: tuple[tuple[str, str], ...] = (
    ("1m", "1 minute"),
    ("15m", "15 minutes"),
    ("1h", "1 hour"),
    ("1d", "1 day"),
)


def _rollup_table(level: str) -> str:
    return f"""
CREATE TABLE rollup_{level} (
    point_id      integer          NOT NULL,
    bucket        timestamptz      NOT NULL,
    samples       integer          NOT NULL,
    bad           integer          NOT NULL,
    valued        integer          NOT NULL,
    min           double precision,
    min_time      timestamptz,
    max           double precision,
    max_time      timestamptz,
    first         double precision,
    first_time    timestamptz,
    last          double precision,
    last_time     timestamptz,
    sum           double precision,
    tw_integral   double precision NOT NULL DEFAULT 0,
    tw_seconds    double precision NOT NULL DEFAULT 0,
    counter_delta double precision,
    PRIMARY KEY (point_id, bucket)
);
"""


_CODES = "\n".join(
    [
        "INSERT INTO quality_codes (code, name) VALUES "
        + ", ".join(f"({code}, '{name}')" for name, code in QUALITY_CODES.items())
        + ";",
        "INSERT INTO reason_codes (code, name) VALUES "
        + ", ".join(f"({code}, '{name}')" for name, code in REASON_CODES.items())
        + ";",
    ]
)

# The counter increment between two consecutive valued readings of a meter. A reading below the
# previous one is a rollover when the previous reading was in the top tenth of the register's
# span (the point's range maximum, the value at which the register wraps to 0), otherwise a reset
# to zero: the increment is then the new reading itself.
_COUNTER_FUNCTION = """
CREATE FUNCTION counter_increment(previous double precision, current double precision,
                                  modulus double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN previous IS NULL OR current IS NULL THEN NULL
        WHEN current >= previous THEN current - previous
        WHEN modulus > 0 AND previous >= 0.9 * modulus AND current < modulus
            THEN modulus - previous + current
        ELSE current
    END
$$;
"""

# The counter increment of a valued reading ``v`` at ``t`` from the two valued readings before it
# (``v2`` at ``t2``, ``v1`` at ``t1``). A decrease is a suspect reading (increment 0) unless it
# is a rollover of a counter that declares its wrap value (previous reading in the top tenth,
# current one in the bottom tenth) or coincides with a change of the counter's declared reset
# point (then the new reading is counted from zero). A reading after a suspect one is measured
# from the reading before the suspect one when it is not below it, so one glitch reading (to 0
# or anything lower) adds nothing to a total.
_COUNTER_STEP = """
DROP FUNCTION IF EXISTS counter_increment(double precision, double precision, double precision);
CREATE FUNCTION counter_reset_between(reset_point integer, after timestamptz,
                                      upto timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT reset_point IS NOT NULL AND EXISTS (
        SELECT 1 FROM samples s
        WHERE s.point_id = reset_point AND s.time > after AND s.time <= upto
          AND s.quality <> 2 AND s.value IS NOT NULL
          AND s.value <> (SELECT b.value FROM samples b WHERE b.point_id = reset_point
                          AND b.time < s.time AND b.quality <> 2 AND b.value IS NOT NULL
                          ORDER BY b.time DESC LIMIT 1))
$$;
CREATE FUNCTION counter_decrease(before double precision, before_at timestamptz,
                                 reading double precision, reading_at timestamptz,
                                 rollover double precision, reset_point integer)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN before IS NULL OR reading IS NULL OR reading >= before THEN NULL
        WHEN rollover > 0 AND before >= 0.9 * rollover AND reading <= 0.1 * rollover
            THEN 'rollover'
        WHEN counter_reset_between(reset_point, before_at, reading_at) THEN 'reset'
        ELSE 'suspect'
    END
$$;
CREATE FUNCTION counter_step(v2 double precision, t2 timestamptz,
                             v1 double precision, t1 timestamptz,
                             v double precision, t timestamptz,
                             rollover double precision, reset_point integer)
RETURNS double precision LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN v1 IS NULL OR v IS NULL THEN NULL
        WHEN v < v1 THEN
            CASE counter_decrease(v1, t1, v, t, rollover, reset_point)
                WHEN 'rollover' THEN rollover - v1 + v
                WHEN 'reset' THEN v
                ELSE 0
            END
        WHEN v2 IS NOT NULL AND v >= v2 AND v1 < v2
             AND counter_decrease(v2, t2, v1, t1, rollover, reset_point) = 'suspect'
            THEN v - v2
        ELSE v - v1
    END
$$;
"""

_APPEND_ONLY = """
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE FUNCTION command_outcome_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.outcome IS NOT NULL
       OR (NEW.id, NEW.station, NEW.point, NEW.value, NEW.origin, NEW.issued, NEW.expires)
          IS DISTINCT FROM
          (OLD.id, OLD.station, OLD.point, OLD.value, OLD.origin, OLD.issued, OLD.expires) THEN
        RAISE EXCEPTION 'commands are append-only: only a missing outcome may be filled in';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER commands_append_only BEFORE UPDATE OR DELETE ON commands
    FOR EACH ROW EXECUTE FUNCTION command_outcome_once();
"""

_V2_ROLLUPS = "".join(
    f"ALTER TABLE rollup_{level} ADD COLUMN uncertain integer NOT NULL DEFAULT 0;\n"
    for level, _ in ROLLUP_LEVELS
)

MIGRATION_2 = f"""
ALTER TABLE stations ADD COLUMN name text, ADD COLUMN kind text, ADD COLUMN timezone text,
    ADD COLUMN site_hash text, ADD COLUMN contract text, ADD COLUMN bdseq bigint;
ALTER TABLE station_sessions ADD COLUMN last_seq bigint;
ALTER TABLE received_batches ADD COLUMN first_time timestamptz,
    ADD COLUMN last_time timestamptz;
ALTER TABLE points ADD COLUMN rollover double precision, ADD COLUMN reset_point text;
ALTER TABLE gap_ledger ADD COLUMN bdseq bigint;
ALTER TABLE gap_ledger DROP CONSTRAINT gap_ledger_kind_check;
ALTER TABLE gap_ledger ADD CONSTRAINT gap_ledger_kind_check CHECK (kind IN (
    'seq_gap', 'session_death', 'bad_quality', 'value_conflict', 'counter_suspect'));
DROP INDEX gap_ledger_one_death;
CREATE UNIQUE INDEX gap_ledger_one_outage ON gap_ledger (station, bdseq)
    WHERE kind = 'session_death';
CREATE INDEX gap_ledger_open_outage ON gap_ledger (station)
    WHERE kind = 'session_death' AND end_time IS NULL;
CREATE UNIQUE INDEX gap_ledger_one_suspect ON gap_ledger (point_id, end_time)
    WHERE kind = 'counter_suspect';
CREATE INDEX gap_ledger_seq_time ON gap_ledger (station, start_time) WHERE kind = 'seq_gap';
{_V2_ROLLUPS}
INSERT INTO rollup_dirty (point_id, bucket) SELECT point_id, bucket FROM rollup_1m
    ON CONFLICT DO NOTHING;
{_COUNTER_STEP}
ALTER TABLE events ADD COLUMN event_id text;
CREATE UNIQUE INDEX events_one_id ON events (station, event_id);
ALTER TABLE audit ADD COLUMN station text, ADD COLUMN key text UNIQUE;
{_APPEND_ONLY}
"""


MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "stations, points, samples, ledgers, dead letters, rollups",
        f"""
CREATE TABLE stations (
    id          text PRIMARY KEY,
    gateway     text,
    session     bigint,
    birth_time  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE equipment (
    station     text NOT NULL REFERENCES stations (id),
    id          text NOT NULL,
    kind        text NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE points (
    id              serial PRIMARY KEY,
    station         text NOT NULL REFERENCES stations (id),
    name            text NOT NULL,
    equipment       text,
    equipment_kind  text,
    measurand       text,
    unit            text,
    dtype           text,
    range_min       double precision,
    range_max       double precision,
    writable        boolean NOT NULL DEFAULT false,
    limit_min       double precision,
    limit_max       double precision,
    depth_m         double precision,
    counter         boolean NOT NULL DEFAULT false,
    deadband        double precision,
    period_s        double precision,
    announced       boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station, name)
);
CREATE TABLE quality_codes (code smallint PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE reason_codes (code smallint PRIMARY KEY, name text NOT NULL UNIQUE);
{_CODES}
CREATE TABLE samples (
    point_id    integer     NOT NULL,
    time        timestamptz NOT NULL,
    value       double precision,
    quality     smallint    NOT NULL,
    reason      smallint,
    detail      text,
    PRIMARY KEY (point_id, time)
);
CREATE TABLE station_sessions (
    station         text   NOT NULL,
    session         bigint NOT NULL,
    gateway         text,
    first_received  timestamptz NOT NULL DEFAULT now(),
    last_received   timestamptz NOT NULL DEFAULT now(),
    max_seq         bigint NOT NULL DEFAULT -1,
    birth_time      timestamptz,
    death_time      timestamptz,
    PRIMARY KEY (station, session)
);
CREATE TABLE received_batches (
    station     text    NOT NULL,
    session     bigint  NOT NULL,
    seq         bigint  NOT NULL,
    historical  boolean NOT NULL,
    samples     integer NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station, session, seq)
);
CREATE TABLE gap_ledger (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('seq_gap', 'session_death', 'bad_quality',
                                             'value_conflict')),
    station     text NOT NULL,
    session     bigint,
    point_id    integer,
    from_seq    bigint,
    to_seq      bigint,
    start_time  timestamptz,
    end_time    timestamptz,
    reason      text,
    count       bigint NOT NULL DEFAULT 1,
    detected_at timestamptz NOT NULL DEFAULT now(),
    filled_at   timestamptz
);
CREATE INDEX gap_ledger_station_time ON gap_ledger (station, kind, start_time);
CREATE INDEX gap_ledger_open_seq ON gap_ledger (station, session) WHERE kind = 'seq_gap'
    AND filled_at IS NULL;
CREATE UNIQUE INDEX gap_ledger_one_death ON gap_ledger (station, session)
    WHERE kind = 'session_death';
CREATE INDEX gap_ledger_bad_quality ON gap_ledger (point_id, reason, end_time)
    WHERE kind = 'bad_quality';
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text  NOT NULL,
    payload     bytea NOT NULL,
    reason      text  NOT NULL,
    historian   text
);
CREATE TABLE rollup_dirty (
    point_id    integer     NOT NULL,
    bucket      timestamptz NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (point_id, bucket)
);
{"".join(_rollup_table(level) for level, _ in ROLLUP_LEVELS)}
{_COUNTER_FUNCTION}
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    station     text NOT NULL,
    time        timestamptz NOT NULL,
    kind        text NOT NULL,
    severity    smallint,
    source      text,
    point_id    integer,
    message     text NOT NULL,
    data        jsonb,
    acknowledged_at timestamptz,
    acknowledged_by text,
    cleared_at  timestamptz
);
CREATE INDEX events_station_time ON events (station, time);
CREATE TABLE commands (
    id          text PRIMARY KEY,
    station     text NOT NULL,
    point       text NOT NULL,
    value       double precision,
    origin      text NOT NULL,
    issued      timestamptz NOT NULL,
    expires     timestamptz NOT NULL,
    outcome     text,
    reason      text,
    readback    double precision,
    acked_at    timestamptz
);
CREATE TABLE audit (
    id          bigserial PRIMARY KEY,
    time        timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text,
    detail      jsonb
);
""",
    ),
    (
        2,
        "contract 1.1: station metadata and bdSeq, batch times, suspect counters, append-only"
        " commands and audit, uncertain counts in rollups",
        MIGRATION_2,
    ),
    (
        3,
        "an index for the bad spans reaching into a write",
        "CREATE INDEX gap_ledger_bad_reach ON gap_ledger"
        " (point_id, coalesce(end_time, 'infinity'::timestamptz)) WHERE kind = 'bad_quality';"
        " DROP INDEX gap_ledger_bad_quality;",
    ),
    (
        4,
        "when a clean death's missing tail is due to be ledgered",
        "ALTER TABLE station_sessions ADD COLUMN tail_due timestamptz;"
        " CREATE INDEX station_sessions_tail_due ON station_sessions (tail_due)"
        " WHERE tail_due IS NOT NULL;",
    ),
    (
        5,
        "the seq up to which a gateway's spool dropped a session's batches",
        "ALTER TABLE station_sessions ADD COLUMN lost_through bigint;",
    ),
)


@dataclass(frozen=True)
class Features:
    """What the database offers: TimescaleDB, its version and its licence's features."""

    timescaledb: bool
    version: str | None = None
    license: str | None = None

    @property
    def tsl(self) -> bool:
        """Compression, continuous aggregates and policies (Timescale License builds only)."""
        return self.timescaledb and self.license == "timescale"


def detect_features(conn: psycopg.Connection[tuple[object, ...]]) -> Features:
    """Detect TimescaleDB in the connected database."""
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if row is None:
        return Features(timescaledb=False)
    license_row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return Features(
        timescaledb=True,
        version=str(row[0]),
        license=str(license_row[0]) if license_row and license_row[0] else None,
    )


def _try_create_timescaledb(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create the extension when it is installed, preloaded and we may; else leave it."""
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    if available is None or preload is None or "timescaledb" not in str(preload[0]):
        return
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.errors.InsufficientPrivilege:
        log.warning("timescaledb is installed but this role may not create it; using plain tables")


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> Features:
    """Apply every pending migration (concurrency-safe) and return the database's features."""
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        _try_create_timescaledb(conn)
        features = detect_features(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, statements in MIGRATIONS:
            if version in applied:
                continue
            with conn.transaction():
                conn.execute(statements.encode())
                if version == 1:
                    _tune_samples(conn, features)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
            log.info("schema migration %d applied: %s", version, name)
        return features
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def _tune_samples(conn: psycopg.Connection[tuple[object, ...]], features: Features) -> None:
    """Make samples a hypertable (and compress old chunks) when TimescaleDB offers it."""
    if not features.timescaledb:
        return
    conn.execute(
        "SELECT create_hypertable('samples', 'time', chunk_time_interval => interval '1 day',"
        " migrate_data => true)"
    )
    if features.tsl:
        conn.execute(
            "ALTER TABLE samples SET (timescaledb.compress,"
            " timescaledb.compress_segmentby = 'point_id', timescaledb.compress_orderby = 'time')"
        )
        conn.execute("SELECT add_compression_policy('samples', interval '7 days')")


def schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Return the highest applied migration, 0 for an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def latest_version() -> int:
    """Return the version the code expects."""
    return MIGRATIONS[-1][0]


def table(name: str) -> sql.Identifier:
    """Quote a table name for composed SQL."""
    return sql.Identifier(name)
