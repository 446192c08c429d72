"""Edge gateway: one per station, the only program that talks to the station's devices.

The flow, from device to broker:

1. A :class:`~gateway.runtime.DevicePoller` per device wakes at its poll groups' ticks (aligned to
   the period, staggered per device) and asks its driver (:mod:`gateway.modbus`,
   :mod:`gateway.opcua`, chosen from :data:`gateway.driver.DRIVERS`) for one reading per point.
   Ticks run on the monotonic clock, and a scan never outlives its period. A device that fails,
   or a poller that meets any exception, is reconnected by the one backoff policy
   (:mod:`runtime.backoff`); its points are reported bad with a reason meanwhile, and it never
   delays another device.
2. :class:`~gateway.runtime.Gateway` applies the range rule and report-by-exception
   (:mod:`gateway.quality`) and turns each scan's reports into one data batch with the next
   sequence number of the session.
3. The :class:`~gateway.forwarder.Forwarder` writes the batch to the disk spool
   (:mod:`gateway.spool`), then publishes it through :mod:`runtime.mqtt`; it leaves the spool
   only once the historians' retained watermark says it is committed. What stays unconfirmed
   is resent; after an outage the backlog is replayed in order, flagged historical,
   rate-limited.
4. Commands arriving on the station's ``cmd`` topic are checked, written, read back and
   acknowledged (:mod:`gateway.commands`); the gateway's own health is published as points
   (:mod:`gateway.health`).

``geoscada gateway SITE.yaml --broker mqtt://...`` (:mod:`gateway.cli`) runs it; see
``docs/gateway.md``.
"""
