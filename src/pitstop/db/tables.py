"""Every table, in one metadata. Each package owns its tables and is the only one to touch them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Timestamp(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite would hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use the clock")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


# --- accounts -------------------------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("full_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),  # owner | operator
    sa.Column("created_at", Timestamp(), nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # access | refresh
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("client_id", sa.String(100), nullable=False, server_default=""),
    sa.Column("label", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("expires_at", Timestamp(), nullable=False),
    sa.Column("revoked_at", Timestamp(), nullable=True),
)

auth_codes = sa.Table(
    "auth_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("client_id", sa.String(100), nullable=False),
    sa.Column("redirect_uri", sa.String(2000), nullable=False),
    sa.Column("code_challenge", sa.String(200), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("expires_at", Timestamp(), nullable=False),
    sa.Column("used_at", Timestamp(), nullable=True),
)

# --- fleet ----------------------------------------------------------------------------------

vehicles = sa.Table(
    "vehicles",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("vin", sa.String(17), nullable=False, unique=True),
    sa.Column(
        "owner_id", sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False, index=True
    ),
    sa.Column("display_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("car_type", sa.String(30), nullable=False, server_default="model3"),
    # The car's credential: sha256 of its secret, for the link's sign-in.
    sa.Column("link_auth_hash", sa.String(64), nullable=False),
    # The key commands are signed with; the car derives the same key from its secret.
    sa.Column("command_key", sa.String(64), nullable=False),
    # Every command gets the next number, so the car can refuse replays (across replicas too).
    sa.Column("command_counter", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", Timestamp(), nullable=False),
)

vehicle_states = sa.Table(
    "vehicle_states",
    metadata,
    sa.Column("vehicle_id", sa.ForeignKey("vehicles.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

telemetry = sa.Table(
    "telemetry",
    metadata,
    sa.Column("vehicle_id", sa.ForeignKey("vehicles.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("recorded_at", Timestamp(), nullable=False),
    sa.Column("signals", sa.JSON, nullable=False),
)

# --- availability ---------------------------------------------------------------------------

maintenance_windows = sa.Table(
    "maintenance_windows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    # Empty list: the whole service.
    sa.Column("components", sa.JSON, nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),  # full | read_only
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("starts_at", Timestamp(), nullable=False),
    sa.Column("expected_end", Timestamp(), nullable=False),
    sa.Column("started_at", Timestamp(), nullable=True),
    sa.Column("ended_at", Timestamp(), nullable=True),
    # False: the window lasts until an operator finishes it, and may overrun.
    sa.Column("auto_finish", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("rrule", sa.String(500), nullable=True),
    # Occurrences of a recurring window share the id of the first one.
    sa.Column("series_id", sa.Integer, nullable=True),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
    # Raised on every change (iCalendar's SEQUENCE, and caches).
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
)

maintenance_updates = sa.Table(
    "maintenance_updates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "window_id",
        sa.ForeignKey("maintenance_windows.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", Timestamp(), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("author", sa.String(320), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", Timestamp(), nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(100), nullable=False, index=True),
    sa.Column("detail", sa.JSON, nullable=False),
)

# --- notify ---------------------------------------------------------------------------------

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # The idempotency key: enqueueing the same key twice is a no-op; receivers dedupe on it.
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("topic", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("html", sa.Text, nullable=True),
    # A template kind (notify/templates/<kind>.*), rendered per recipient at delivery time.
    sa.Column("template", sa.String(60), nullable=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
)

notification_deliveries = sa.Table(
    "notification_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "notification_id",
        sa.ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("channel", sa.String(20), nullable=False),  # email | webhook | feed | push
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True),
    # Where to: an email address, a webhook endpoint id, a user id for the feed.
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending|delivering|delivered|dead
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp(), nullable=False),
    # While delivering: who holds the row, and until when (after that anyone may take it).
    sa.Column("lease_token", sa.String(64), nullable=True),
    sa.Column("lease_until", Timestamp(), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
    sa.Column("delivered_at", Timestamp(), nullable=True),
    sa.UniqueConstraint("notification_id", "channel", "recipient"),
    sa.Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
)

notification_preferences = sa.Table(
    "notification_preferences",
    metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    # topic -> list of channels; topics not named here use the defaults.
    sa.Column("channels", sa.JSON, nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

feed_items = sa.Table(
    "feed_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "notification_id",
        sa.ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("topic", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("read_at", Timestamp(), nullable=True),
    sa.UniqueConstraint("user_id", "notification_id"),
    sa.Index("ix_feed_items_user", "user_id", "id"),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    # [{"secret": "whsec_...", "created_at": iso, "expires_at": iso | null}], newest first.
    sa.Column("secrets", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    # The browser's push service URL; one browser profile has one, so it names the device.
    sa.Column("endpoint", sa.String(2000), nullable=False, unique=True),
    # The browser's keys (base64url): its P-256 public key and the 16-byte auth secret.
    sa.Column("p256dh", sa.String(100), nullable=False),
    sa.Column("auth", sa.String(40), nullable=False),
    # What the owner sees in the list of their devices, from the browser's User-Agent.
    sa.Column("device", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
    sa.Column("last_delivered_at", Timestamp(), nullable=True),
)

# --- status ---------------------------------------------------------------------------------

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # What failed, e.g. "database": one open incident per cause at a time.
    sa.Column("cause", sa.String(60), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("components", sa.JSON, nullable=False),
    sa.Column("impact", sa.String(20), nullable=False),  # outage | degraded
    sa.Column("started_at", Timestamp(), nullable=False),
    sa.Column("resolved_at", Timestamp(), nullable=True),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
)

# --- service --------------------------------------------------------------------------------

service_centers = sa.Table(
    "service_centers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(500), nullable=False, server_default=""),
    sa.Column("timezone", sa.String(64), nullable=False),
    # weekday ("mon".."sun") -> ["08:00-12:00", ...] in the center's local time.
    sa.Column("hours", sa.JSON, nullable=False),
    sa.Column("slot_minutes", sa.Integer, nullable=False),
    # Bays: how many cars one slot takes.
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

service_appointments = sa.Table(
    "service_appointments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "center_id", sa.ForeignKey("service_centers.id", ondelete="RESTRICT"), nullable=False
    ),
    sa.Column(
        "vehicle_id", sa.ForeignKey("vehicles.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column(
        "owner_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("starts_at", Timestamp(), nullable=False),
    sa.Column("ends_at", Timestamp(), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # booked | cancelled
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
    sa.Column("cancelled_at", Timestamp(), nullable=True),
    sa.Column("cancelled_by", sa.String(320), nullable=True),
    sa.Index("ix_service_appointments_center_start", "center_id", "starts_at"),
)

# One row per taken bay of a slot: the primary key makes overbooking impossible, whatever
# the number of server processes; the unique (vehicle, start) keeps a car in one bay at a time.
service_bays = sa.Table(
    "service_bays",
    metadata,
    sa.Column(
        "center_id", sa.ForeignKey("service_centers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("starts_at", Timestamp(), primary_key=True),
    sa.Column("bay", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column(
        "appointment_id",
        sa.ForeignKey("service_appointments.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("vehicle_id", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("vehicle_id", "starts_at", name="uq_service_bays_vehicle_start"),
)

status_subscribers = sa.Table(
    "status_subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    # Components followed; empty: all of them.
    sa.Column("components", sa.JSON, nullable=False),
    # sha256 of the confirmation token mailed to the address (double opt-in).
    sa.Column("token_hash", sa.String(64), nullable=True, index=True),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("confirmed_at", Timestamp(), nullable=True),
)
