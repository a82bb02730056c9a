"""The status page: components' state, windows, incidents, 90 days of history, and its feeds."""
