"""Physics-based station simulator serving real Modbus TCP and OPC UA servers.

It stands in for the plant in development, tests and the demo. The flow, bottom up:

* :mod:`simulator.climate` — outdoor weather fitted to the site's climate;
* :mod:`simulator.equipment` — the state and local physics of pumps, wells, boreholes,
  exchangers, heat pumps and heated zones;
* :mod:`simulator.build` — the equipment built from the site file, pumps given their duties;
* :mod:`simulator.local_control` — the local PLC's decisions as pure functions;
* :mod:`simulator.hydraulics`, :mod:`simulator.heat`, :mod:`simulator.meters` — flows by the
  valves' roles, the thermal solution with its exact energy balance, meters and counters;
* :mod:`simulator.commands` — written commands, remote mode, watchdog and equipment faults;
* :mod:`simulator.station` — :class:`~simulator.station.StationModel`, one station composed of
  those parts and advanced in time steps;
* :mod:`simulator.readings` and :mod:`simulator.points` — what every point of the site file
  reads (unit conversion, seeded sensor noise, sensor faults);
* :mod:`simulator.faults` — fault specifications, schedule files and their timing;
* :mod:`simulator.sim` — :class:`~simulator.sim.StationSim`, one station without I/O: advance,
  read, write, inject and clear faults (what tests drive);
* :mod:`simulator.registers`, :mod:`simulator.modbus_server`, :mod:`simulator.opcua_server` —
  the Modbus encoding and the two servers;
* :mod:`simulator.runtime` — :class:`~simulator.runtime.SimulatorHost`, the clock and the
  servers of several stations; :mod:`simulator.control_api` and :mod:`simulator.cli` —
  ``geoscada sim`` and its HTTP control API.

docs/simulator.md describes the physics, faults, interfaces and measured figures.
"""
