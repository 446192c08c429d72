"""Operator and regulator web interface (to be built): FastAPI dashboards, trends, reports."""
