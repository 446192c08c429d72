"""The shared plant domain: site configuration, points and units, the MQTT contract and models.

A station is described by one YAML site file (:mod:`plant.site`): its climate and buildings,
its equipment (wells, boreholes, exchangers, heat pumps, pumps, meters, substations) and its
point list with protocol bindings. Every service loads the same validated :class:`plant.site.Site`.
Measurements travel as samples with source time and quality (:mod:`plant.contract`), and the
performance models of the Heilongjiang plan live in :mod:`plant.models`. Nothing here does
network or database I/O, so every other package may import it.
"""
