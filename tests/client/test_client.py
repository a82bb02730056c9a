"""The client against a real server and real simulated cars: what an owner's program sees."""

from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pitstop.accounts import scopes
from pitstop.app import create_app
from pitstop.client import (
    NO_RETRY,
    AuthError,
    CommandResult,
    Credentials,
    CredentialStore,
    ForbiddenError,
    InvalidInput,
    NotFoundError,
    PitstopClient,
    Unreachable,
    VehicleAsleep,
    VehicleOffline,
)
from pitstop.clock import ManualClock
from pitstop.settings import Settings
from tests.client.support import asleep_car, closed_port_url
from tests.world import World


async def test_signing_in_with_a_password_then_reading_the_account(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with PitstopClient(world.url) as pitstop:
        grant = await pitstop.token_password("ADA@example.com", owner.password)
        me = await pitstop.me()
    assert me.email == "ada@example.com" and me.role == "owner"
    assert grant.refresh_token and "vehicle_cmds" in grant.scopes
    assert pitstop.credentials.access_token == grant.access_token
    assert pitstop.credentials.expires_at is not None
    assert pitstop.credentials.expires_at > datetime.now(UTC) + timedelta(hours=7)


async def test_a_wrong_password_is_an_auth_error_with_a_hint(world: World) -> None:
    await world.account("ada@example.com")
    async with PitstopClient(world.url) as pitstop:
        with pytest.raises(AuthError) as caught:
            await pitstop.token_password("ada@example.com", "not my password")
    assert caught.value.message == "The email or password is wrong."
    assert caught.value.hint == "check the email and password"


async def test_vehicles_vehicle_data_and_a_command(world: World) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner, name="Blue", battery_level=64.0)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        cars = await pitstop.vehicles()
        assert [(c.vin, c.display_name, c.state) for c in cars] == [(car.vin, "Blue", "online")]
        assert (await pitstop.vehicle(str(cars[0].id))).vin == car.vin

        data = await pitstop.vehicle_data(car.vin)
        assert data["charge_state"]["battery_level"] == 64
        assert data["vehicle_state"]["locked"] is True
        assert "latitude" not in data["drive_state"]  # location needs location_data

        located = await pitstop.vehicle_data(car.vin, ["drive_state", "location_data"])
        assert located["drive_state"]["latitude"] == pytest.approx(52.52, abs=0.01)
        assert "charge_state" not in located

        assert await pitstop.command(car.vin, "door_unlock") == CommandResult(True, "")
        after = await pitstop.vehicle_data(car.vin, "vehicle_state")
    assert after["vehicle_state"]["locked"] is False


async def test_a_car_that_refuses_says_why(world: World) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        outcome = await pitstop.command(car.vin, "charge_start")
    assert outcome == CommandResult(False, "cable_not_connected")


async def test_commands_with_parameters_reach_the_car(world: World) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        assert (await pitstop.command(car.vin, "set_charge_limit", percent=90)).result
        assert (
            await pitstop.command(
                car.vin,
                "add_charge_schedule",
                days_of_week="Weekdays",
                start_time=23 * 60,
                start_enabled=True,
                name="Night",
            )
        ).result
        data = await pitstop.vehicle_data(car.vin, ["charge_state", "charge_schedule_data"])
    assert data["charge_state"]["charge_limit_soc"] == 90
    [schedule] = data["charge_schedule_data"]["charge_schedules"]
    assert schedule["name"] == "Night" and schedule["start_time"] == 23 * 60


async def test_invalid_values_come_back_with_the_servers_messages(world: World) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        with pytest.raises(InvalidInput) as caught:
            await pitstop.command(car.vin, "set_charge_limit", percent=101)
    assert caught.value.status == 422
    assert caught.value.messages == {"percent": ["must be between 50 and 100"]}
    assert caught.value.message == "percent must be between 50 and 100."
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        with pytest.raises(InvalidInput) as caught:
            await pitstop.vehicle_data(car.vin, ["charge_state", "fuel_state"])
    assert caught.value.message == "Unknown endpoints: fuel_state."
    assert caught.value.hint.startswith("endpoints: each must be one of: charge_schedule_data,")


async def test_an_unknown_vin_is_not_found_with_a_hint(world: World) -> None:
    owner = await world.account("ada@example.com")
    other = await world.account("bob@example.com")
    bobs = await world.car(other)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        for key in ("5YJ3E1EA7PF999999", bobs.vin):  # someone else's car is as unknown
            with pytest.raises(NotFoundError) as caught:
                await pitstop.vehicle_data(key)
            assert caught.value.message == f"You have no vehicle {key}."
            assert caught.value.hint == "`pitstop vehicles` lists yours"


async def test_bad_missing_and_revoked_tokens_say_to_log_in(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with PitstopClient(world.url, token="not-a-token") as pitstop:
        with pytest.raises(AuthError) as caught:
            await pitstop.vehicles()
    assert caught.value.hint == "run `pitstop login`" and caught.value.status == 401
    async with PitstopClient(world.url) as pitstop:
        with pytest.raises(AuthError) as caught:
            await pitstop.vehicles()
    assert caught.value.message == f"You are not signed in to {world.url}."
    assert caught.value.hint == "run `pitstop login`"
    await world.rt.tokens.revoke(raw=owner.token)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        with pytest.raises(AuthError, match="revoked"):
            await pitstop.vehicles()


async def test_missing_scopes_are_listed(world: World) -> None:
    owner = await world.account(
        "ada@example.com", scopes=frozenset({scopes.OPENID, scopes.VEHICLE_DEVICE_DATA})
    )
    car = await world.car(owner)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        with pytest.raises(ForbiddenError) as caught:
            await pitstop.command(car.vin, "door_unlock")
    assert caught.value.missing_scopes == ["vehicle_cmds"]
    assert "vehicle_cmds" in caught.value.hint


async def test_an_unreachable_server_is_one_sentence() -> None:
    url = closed_port_url()
    async with PitstopClient(url, token="t", retry=NO_RETRY) as pitstop:
        with pytest.raises(Unreachable) as caught:
            await pitstop.vehicles()
    assert caught.value.message == (
        f"Cannot reach the Pitstop server at {url}: is it running? Check PITSTOP_URL."
    )


async def test_an_asleep_car_is_not_woken_by_reads_and_wakes_when_asked(world: World) -> None:
    owner = await world.account("ada@example.com")
    car = await asleep_car(world, owner)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        with pytest.raises(VehicleAsleep) as caught:
            await pitstop.vehicle_data(car.vin)
        assert caught.value.hint == f"wake it with `pitstop wake {car.vin}`"
        assert (await pitstop.vehicle(car.vin)).state == "asleep"  # reading did not wake it
        with pytest.raises(VehicleAsleep):
            await pitstop.command(car.vin, "door_unlock")

        woken = await pitstop.wake_and_wait(car.vin, timeout=10)
        assert woken.state == "online"
        assert (await pitstop.command(car.vin, "door_unlock")).result


async def test_a_car_without_a_link_is_offline_and_waking_it_says_so(world: World) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner, connect=False)
    async with PitstopClient(world.url, token=owner.token) as pitstop:
        with pytest.raises(VehicleOffline) as caught:
            await pitstop.vehicle_data(car.vin)
        assert "offline" in caught.value.message
        with pytest.raises(VehicleOffline):
            await pitstop.wake_and_wait(car.vin, timeout=2)


# --- credentials --------------------------------------------------------------------------------


async def test_credentials_are_saved_for_the_owner_only(world: World, tmp_path: Path) -> None:
    owner = await world.account("ada@example.com")
    store = CredentialStore(tmp_path / "config")
    async with PitstopClient(world.url) as pitstop:
        await pitstop.token_password("ada@example.com", owner.password)
        store.save(pitstop.credentials)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == pitstop.credentials

    env = {"PITSTOP_CONFIG_DIR": str(tmp_path / "config")}
    async with PitstopClient.from_env(env) as again:
        assert again.base_url == world.url
        assert (await again.me()).email == "ada@example.com"


async def test_environment_variables_override_the_stored_credentials(
    world: World, tmp_path: Path
) -> None:
    ada = await world.account("ada@example.com")
    bob = await world.account("bob@example.com")
    CredentialStore(tmp_path).save(Credentials(url=world.url, access_token=ada.token))
    env = {"PITSTOP_CONFIG_DIR": str(tmp_path), "PITSTOP_TOKEN": bob.token}
    async with PitstopClient.from_env(env) as pitstop:
        assert (await pitstop.me()).email == "bob@example.com"

    # Tokens saved for one server are not sent to another.
    elsewhere = closed_port_url()
    env = {"PITSTOP_CONFIG_DIR": str(tmp_path), "PITSTOP_URL": elsewhere}
    async with PitstopClient.from_env(env) as pitstop:
        assert pitstop.credentials.access_token is None
        with pytest.raises(AuthError) as caught:
            await pitstop.vehicles()
    assert caught.value.message == (
        f"You are not signed in to {elsewhere}: your saved sign-in is for {world.url}."
    )
    assert caught.value.hint == f"run `pitstop login --url {elsewhere}`, or unset PITSTOP_URL"


async def test_an_expired_access_token_is_refreshed_once_and_saved(
    world: World, tmp_path: Path
) -> None:
    owner = await world.account("ada@example.com")
    store = CredentialStore(tmp_path)
    async with PitstopClient(world.url, store=store) as pitstop:
        first = await pitstop.token_password("ada@example.com", owner.password)
    # The saved token's time is up (as far as the client can tell).
    stale = Credentials(
        url=world.url,
        access_token=first.access_token,
        refresh_token=first.refresh_token,
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    store.save(stale)
    async with PitstopClient.from_env({"PITSTOP_CONFIG_DIR": str(tmp_path)}) as pitstop:
        assert (await pitstop.me()).email == "ada@example.com"
        assert (await pitstop.vehicles()) == []
    saved = store.load()
    assert saved is not None
    assert saved.access_token != first.access_token and saved.refresh_token != first.refresh_token
    assert not saved.expired()
    # The old refresh token was used up: a second refresh with it is refused.
    async with PitstopClient(world.url) as pitstop:
        with pytest.raises(AuthError):
            await pitstop.refresh(first.refresh_token)


async def test_concurrent_calls_share_one_refresh(world: World, tmp_path: Path) -> None:
    owner = await world.account("ada@example.com")
    async with PitstopClient(world.url) as pitstop:
        grant = await pitstop.token_password("ada@example.com", owner.password)
    stale = Credentials(
        url=world.url,
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    store = CredentialStore(tmp_path)
    async with PitstopClient(world.url, credentials=stale, store=store) as pitstop:
        # A second refresh would present the rotated (dead) refresh token and fail.
        users = await asyncio.gather(*(pitstop.me() for _ in range(5)))
    assert {u.email for u in users} == {"ada@example.com"}
    assert store.load() == pitstop.credentials


async def test_a_token_the_server_says_has_expired_is_refreshed(settings: Settings) -> None:
    clock = ManualClock()
    async with World.running(create_app(settings, clock=clock), clock) as world:
        owner = await world.account("ada@example.com")
        async with PitstopClient(world.url) as pitstop:
            await pitstop.token_password("ada@example.com", owner.password)
            before = pitstop.credentials
            await clock.advance(8 * 3600 + 1)  # the server's clock: the access token is dead
            assert (await pitstop.me()).email == "ada@example.com"
            assert pitstop.credentials.access_token != before.access_token


async def test_a_dead_refresh_token_says_to_log_in_again(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with PitstopClient(world.url) as pitstop:
        grant = await pitstop.token_password("ada@example.com", owner.password)
    assert grant.refresh_token
    await world.rt.tokens.revoke(raw=grant.refresh_token)
    stale = Credentials(
        url=world.url,
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    async with PitstopClient(world.url, credentials=stale) as pitstop:
        with pytest.raises(AuthError) as caught:
            await pitstop.me()
    assert caught.value.message == "Your session has expired and could not be renewed."
    assert caught.value.hint == "run `pitstop login`"
