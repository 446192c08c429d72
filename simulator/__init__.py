"""Physics-based station simulator serving real Modbus TCP and OPC UA servers.

It stands in for the plant in development, tests and the demo: a time-stepped model of each
station's wells, boreholes, exchangers, heat pumps, pumps and meters, with fault injection.
"""
