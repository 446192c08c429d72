"""Performance models of the Heilongjiang plan (seed 004, chapters 4-6) and station KPIs.

Everything here is pure: functions of configuration and numbers, vectorised over numpy arrays
where they are used per sample. ``water`` gives water properties and heat from a meter's
readings; ``heat_pump`` the expected COP of a unit from its temperatures and rating;
``borehole`` a ground model for deep coaxial boreholes and shallow fields that the simulator
steps every second and the controller uses for expected outlet temperatures; ``kpi`` the
station KPIs computed from measurements; the plan's tables are computed by ``plan`` from the
input data under ``plant/data/heilongjiang`` and printed by ``geoscada models table``.
"""
