"""The operator console at /admin."""
