"""Shipped data (read through importlib.resources)."""
