"""Pitstop: a self-hostable connected-car platform in the Tesla Fleet API dialect."""

__version__ = "0.1.0"
