"""What every GeoSCADA service needs, once: the MQTT session, the reconnect policy, settings.

- :mod:`runtime.mqtt`: broker settings (``mqtt://`` or ``mqtts://`` with a verified CA, an
  optional client certificate, a username with its password read from a file), a configured
  paho client, :class:`~runtime.mqtt.BrokerLink`, the asyncio MQTT 5 session that keeps
  one connection up, notices a frozen broker, and names every publication by connection and
  message id, and :class:`~runtime.mqtt.ThreadedSession`, the same for a service built on
  threads (one client kept across reconnects, so a persistent broker session carries on).
- :mod:`runtime.backoff`: the one reconnect policy, capped exponential backoff with jitter.
- :mod:`runtime.settings`: secrets from files (never from the command line), log set-up.

Services import this package and :mod:`plant`, never each other.
"""
