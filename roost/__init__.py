"""Roost: a self-hosted platform for operating web applications."""

__version__ = "0.1.0"
