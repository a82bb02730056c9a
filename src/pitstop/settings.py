"""One typed settings object, read from `PITSTOP_*` environment variables and an optional TOML file.

Precedence: keyword arguments, then the environment, then the TOML file named by
`PITSTOP_CONFIG`, then the defaults below.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import platformdirs


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pitstop", appauthor=False))


class Settings(msgspec.Struct, kw_only=True):
    #: Where state lives: the SQLite file, the server secret, demo.json.
    data_dir: Path = msgspec.field(default_factory=default_data_dir)
    #: SQLAlchemy URL; `postgresql://...` and `sqlite:///...` are accepted as well as the async forms.
    #: Empty means SQLite in the data dir.
    database_url: str = ""
    #: The public base URL of this server (used in links and id_tokens). Empty: derived from requests.
    public_url: str = ""
    #: Signs id_tokens and bypass cookies. Empty: generated once and kept in the data dir.
    secret_key: str = ""
    #: Lifetimes, in seconds.
    access_token_ttl: int = 8 * 3600
    refresh_token_ttl: int = 90 * 24 * 3600
    #: How long the server waits for a car to answer a command, in seconds.
    command_timeout: float = 10.0
    #: How long a signed command stays valid on the car, in seconds.
    command_expiry: float = 30.0
    #: How often buffered telemetry is written to the database, in seconds.
    telemetry_flush_interval: float = 0.2
    #: How long an authenticated token stays in the in-memory cache, in seconds.
    #: Bounds how long a revoked token may still work on another server process.
    token_cache_ttl: float = 5.0
    #: Redis for spreading maintenance changes between processes (optional; PostgreSQL's
    #: LISTEN/NOTIFY is used when the database is PostgreSQL, polling always runs).
    redis_url: str = ""
    #: How often each process re-reads maintenance state, in seconds. Under a second, so that
    #: polling alone brings a change to every process within one (a cheap fingerprint query).
    maintenance_poll_interval: float = 0.5
    #: What tells the other processes at once that maintenance state changed (polling always
    #: runs as well): "auto" (Redis when redis_url is set, else LISTEN/NOTIFY when the database
    #: is PostgreSQL, else nothing), "poll" (nothing: polling only), "postgres" or "redis".
    maintenance_feed: str = "auto"
    #: Retry-After bounds and per-client spread for 503 answers, in seconds.
    retry_after_floor: int = 5
    retry_after_cap: int = 3600
    retry_after_jitter: int = 60
    #: How long a draining server keeps serving (with /readyz at 503) before it stops
    #: accepting connections, and how long it then waits for requests in flight, in seconds.
    drain_grace: float = 5.0
    drain_timeout: float = 20.0
    #: Outgoing mail for notifications. An empty host means no email channel.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "Pitstop <pitstop@localhost>"
    smtp_tls: str = "none"  # none | starttls | tls
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 30.0
    #: Notification delivery: attempts before a delivery is parked as dead, the retry backoff
    #: (first wait and longest wait), how long a worker's claim lasts, how often idle workers
    #: look for due work, all in seconds; and the webhook request timeout.
    notify_max_attempts: int = 8
    notify_backoff_base: float = 30.0
    notify_backoff_cap: float = 6 * 3600.0
    notify_lease: float = 120.0
    notify_poll_interval: float = 1.0
    webhook_timeout: float = 10.0
    #: Whether owners' webhooks may go to loopback, private and link-local addresses (the LAN,
    #: this machine). Set false on a server shared by owners not trusted with its network.
    webhook_allow_private: bool = True
    #: Web Push: the server's VAPID private key (base64url of the 32-byte P-256 scalar; empty:
    #: derived from the server secret, so every process sharing the secret shares it), the
    #: contact push services see (a mailto: or https: URL; empty: mailto: the smtp_from
    #: address), and how long a push service keeps a message for an offline browser, in seconds.
    vapid_private_key: str = ""
    vapid_subject: str = ""
    push_ttl: int = 24 * 3600
    #: Health checks for the status page: how often they run, and how long a check must keep
    #: failing before the status page shows an outage by itself, in seconds.
    health_check_interval: float = 5.0
    incident_after: float = 60.0
    #: Maintenance reminders, in hours before a window starts (comma-separated), and how often
    #: each process looks for announcements due, in seconds.
    maintenance_reminders: str = "72,24,1"
    announce_interval: float = 15.0
    #: Vehicle alerts (PITSTOP_ALERT_*): how often each process looks at its cars, in seconds;
    #: how long a parked car may stay unlocked, and a plugged-in car not charge though it
    #: should, before the owner is told, in seconds; the low-battery threshold and how far the
    #: battery must climb above it before it can alert again, in %; service due by distance
    #: (km) or time (days) since the last service, or a tyre below alert_tyre_bar (bar); and
    #: the least time between two alerts of one kind for one car, in seconds.
    alert_interval: float = 10.0
    alert_unlocked_after: float = 600.0
    alert_not_charging_after: float = 300.0
    alert_battery_low: float = 20.0
    alert_battery_rearm: float = 5.0
    alert_service_km: float = 20_000.0
    alert_service_days: float = 365.0
    alert_tyre_bar: float = 2.4
    alert_min_interval: float = 3600.0

    def resolved_database_url(self) -> str:
        return async_database_url(self.database_url or f"sqlite:///{self.data_dir / 'pitstop.db'}")

    def resolved_secret_key(self) -> str:
        """The server secret; created in the data dir the first time it is needed."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def async_database_url(url: str) -> str:
    """Turn a plain database URL into the async driver form SQLAlchemy needs."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str | Path):
        return Path(value).expanduser()
    raise NotImplementedError(kind)


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the TOML file, the environment and `overrides`, in rising precedence."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    config_file = env.get("PITSTOP_CONFIG")
    if config_file:
        values.update(tomllib.loads(Path(config_file).read_text()))
    for field in msgspec.structs.fields(Settings):
        key = f"PITSTOP_{field.name.upper()}"
        if key in env:
            values[field.name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(values, Settings, strict=False, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid settings: {exc}") from exc
