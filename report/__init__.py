"""Regulator reports: reinjection compliance and energy/carbon, reproducible and signed."""
