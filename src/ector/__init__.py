"""Ector: surgical-outcome analytics from an Igraine Gold layer."""

__version__ = "0.1.0"
