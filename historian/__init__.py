"""Historian (to be built): durable, idempotent MQTT to TimescaleDB ingest, rollups, query API."""
