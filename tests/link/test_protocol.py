"""Signed commands: a car refuses what is forged, late or replayed."""

from __future__ import annotations

import msgspec

from pitstop.link import protocol

VIN = "5YJ3E1EA7PF000001"
KEY = protocol.command_key("car-secret")


def _command(counter: int = 1, expires_at: int = 10_000, **params: object) -> protocol.Command:
    return protocol.sign(
        protocol.Command(
            id="c1", name="door_unlock", params=dict(params), counter=counter, expires_at=expires_at
        ),
        vin=VIN,
        key=KEY,
    )


def test_a_signed_command_in_time_is_accepted_once() -> None:
    guard = protocol.ReplayGuard()
    command = _command()
    assert protocol.verify(command, vin=VIN, key=KEY, now_ms=9_000, guard=guard) is None
    assert (
        protocol.verify(command, vin=VIN, key=KEY, now_ms=9_000, guard=guard) == "command_replayed"
    )


def test_a_late_command_is_refused() -> None:
    command = _command(expires_at=10_000)
    assert (
        protocol.verify(command, vin=VIN, key=KEY, now_ms=10_001, guard=protocol.ReplayGuard())
        == "command_expired"
    )


def test_tampering_breaks_the_signature() -> None:
    command = _command(percent=80)
    for forged in (
        msgspec.structs.replace(command, params={"percent": 100}),
        msgspec.structs.replace(command, expires_at=command.expires_at + 60_000),
        msgspec.structs.replace(command, name="door_lock"),
    ):
        assert (
            protocol.verify(forged, vin=VIN, key=KEY, now_ms=0, guard=protocol.ReplayGuard())
            == "invalid_signature"
        )
    other_car = "5YJ3E1EA7PF000002"
    assert (
        protocol.verify(command, vin=other_car, key=KEY, now_ms=0, guard=protocol.ReplayGuard())
        == "invalid_signature"
    )
    other_key = protocol.command_key("another-secret")
    assert (
        protocol.verify(command, vin=VIN, key=other_key, now_ms=0, guard=protocol.ReplayGuard())
        == "invalid_signature"
    )


def test_out_of_order_counters_within_the_window_pass_but_old_ones_do_not() -> None:
    guard = protocol.ReplayGuard(window=4)
    assert guard.check_and_remember(5)
    assert guard.check_and_remember(3)  # from another replica, a little late
    assert not guard.check_and_remember(3)
    assert guard.check_and_remember(10)
    assert not guard.check_and_remember(6)  # older than the window


def test_link_secrets_are_never_stored_as_such() -> None:
    assert protocol.link_auth_hash("s") != protocol.command_key("s")
    assert "s" not in (protocol.link_auth_hash("s"), protocol.command_key("s"))
