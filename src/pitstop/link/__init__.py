"""The car link: cars hold a WebSocket to the server, stream telemetry and run signed commands."""
