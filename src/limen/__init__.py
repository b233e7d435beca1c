"""Limen: one threshold for every identity, human or machine."""

__version__ = "0.1.0"
