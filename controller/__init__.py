"""Supervisory controller: rules from the seed documents, ISA-18.2 alarms and their KPIs.

Everything here is pure logic, a function of (state, inputs, now), so it runs the same live, in
a simulated season and in tests with a fake clock. :mod:`controller.rules` turns a station's
latest samples (and history windows) into :class:`controller.alarms.Observation` values, one per
configured alarm, with defaults derived from the site file; :mod:`controller.alarms` moves each
alarm through the ISA-18.2 states and writes one journal row per transition, which the service
publishes on the station's ``event`` topic and the historian stores; :mod:`controller.kpi`
computes the alarm-system KPIs of an operator position from that journal.
"""
