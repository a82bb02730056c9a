"""The messages on `/link/v1`, and how commands are signed and checked.

A car signs in with its VIN and secret in the upgrade request's headers. From its secret, car
and server derive the same command key; every command carries an id, a counter and an expiry,
signed with HMAC-SHA256, so that a car can refuse a forged, late or replayed command.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgspec

PATH = "/link/v1"
VIN_HEADER = "pitstop-vin"


def link_auth_hash(secret: str) -> str:
    """What the server keeps to check a car's sign-in."""
    return hashlib.sha256(b"pitstop-link-auth:" + secret.encode()).hexdigest()


def command_key(secret: str) -> str:
    """The key both sides derive from the car's secret to sign commands."""
    return hashlib.sha256(b"pitstop-command-key:" + secret.encode()).hexdigest()


# --- car to server --------------------------------------------------------------------------


class Telemetry(msgspec.Struct, tag="telemetry"):
    seq: int  # numbered by the car, from 1, never reused
    ts: int  # when the car recorded it, epoch milliseconds
    signals: dict[str, Any]  # "section.field" -> value; "state" -> online | asleep


class CommandResult(msgspec.Struct, tag="command_result"):
    id: str
    result: bool
    reason: str = ""


CarMessage = Telemetry | CommandResult

# --- server to car --------------------------------------------------------------------------


class Welcome(msgspec.Struct, tag="welcome"):
    vehicle_id: int
    last_seq: int  # the last telemetry record the server has stored


class Ack(msgspec.Struct, tag="ack"):
    seq: int  # everything up to and including seq is stored


class Command(msgspec.Struct, tag="command"):
    id: str
    name: str
    params: dict[str, Any]
    counter: int
    expires_at: int  # epoch milliseconds
    signature: str = ""


class Wake(msgspec.Struct, tag="wake"):
    pass


class Reconnect(msgspec.Struct, tag="reconnect"):
    """The server is going away: reconnect after `after_ms` (plus your own jitter)."""

    after_ms: int = 0


ServerMessage = Welcome | Ack | Command | Wake | Reconnect

car_decoder = msgspec.json.Decoder(CarMessage)
server_decoder = msgspec.json.Decoder(ServerMessage)
encode = msgspec.json.Encoder(order="sorted").encode


def _signed_bytes(vin: str, command: Command) -> bytes:
    return encode(
        [vin, command.id, command.name, command.params, command.counter, command.expires_at]
    )


def sign(command: Command, *, vin: str, key: str) -> Command:
    signature = hmac.new(
        bytes.fromhex(key), _signed_bytes(vin, command), hashlib.sha256
    ).hexdigest()
    return msgspec.structs.replace(command, signature=signature)


class ReplayGuard:
    """Remembers recent command counters; refuses repeats and anything too old.

    Counters come from the database, so they rise across server replicas; two replicas may
    deliver out of order, hence a window rather than "greater than the last one".
    """

    def __init__(self, window: int = 256) -> None:
        self.window = window
        self.highest = 0
        self._seen: set[int] = set()

    def check_and_remember(self, counter: int) -> bool:
        if counter in self._seen or counter <= self.highest - self.window:
            return False
        self._seen.add(counter)
        self.highest = max(self.highest, counter)
        self._seen = {c for c in self._seen if c > self.highest - self.window}
        return True


def verify(command: Command, *, vin: str, key: str, now_ms: int, guard: ReplayGuard) -> str | None:
    """None if the car may run `command`, else the reason it refuses."""
    expected = hmac.new(bytes.fromhex(key), _signed_bytes(vin, command), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, command.signature):
        return "invalid_signature"
    if now_ms > command.expires_at:
        return "command_expired"
    if not guard.check_and_remember(command.counter):
        return "command_replayed"
    return None
