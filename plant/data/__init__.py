"""Input data files shipped with the project (read with importlib.resources)."""
