"""The historian: durable, idempotent MQTT → PostgreSQL/TimescaleDB ingest, rollups and queries.

Flow: ``ingest.Historian`` subscribes (MQTT 5, QoS 1, persistent session, manual
acknowledgement) to every station's ``data`` topic (optionally through a shared subscription so
several historians split the stream) and to ``birth`` and ``death``. ``decode`` turns each
payload into rows or a rejection. ``store.Store`` writes a batch of messages in one transaction —
binary COPY into a staging table, ``INSERT … ON CONFLICT (point_id, time) DO NOTHING``, point
metadata from births, the gap ledger (sequence gaps and their filling, session deaths, bad-quality
spans, value conflicts), dead letters for rejected payloads, and marks for the rollups — and only
after the commit does the runtime acknowledge the messages to the broker. ``rollups`` recomputes
the marked 1-minute buckets from raw samples and the 15-minute, hourly and daily buckets above
them. ``schema`` holds the versioned migrations (applied on start under an advisory lock) and
detects TimescaleDB. ``query`` answers ranges, aggregates, trends, values at times, counter
totals and the gap ledger; ``cli`` and ``query_cli`` are the command-line front ends, and
``synthetic`` makes station traffic for tests and the benchmark. See ``docs/historian.md``.
"""
