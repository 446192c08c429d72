"""Edge gateway (to be built): protocol drivers, pollers, quality, store-and-forward, commands.

One gateway per station polls its PLCs and meters over Modbus and OPC UA and publishes samples
to MQTT under the contract of :mod:`plant.contract`, spooling to disk while the broker is away.
"""
