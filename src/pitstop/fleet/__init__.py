"""The Tesla-compatible vehicle API: the registry of cars, their live state, commands and routes."""
