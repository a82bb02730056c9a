"""Availability: health, readiness and (later) maintenance windows, the gate and drain."""
