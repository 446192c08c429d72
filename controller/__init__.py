"""Supervisory controller (to be built): rules, ISA-18.2 alarms, heat-pump staging, expectations."""
