"""The owner's `pitstop` verbs against a real server and real simulated cars.

The CLI runs `asyncio.run` itself, so each invocation runs in a worker thread while the server
keeps serving on the test's event loop.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from pitstop.client import CredentialStore
from pitstop.sim.model import CarModel
from tests.cli.conftest import Invoke
from tests.client.support import asleep_car, closed_port_url
from tests.world import World


def plugged_in(model: CarModel) -> None:
    model.plug_in(power_kw=11.0)


# --- signing in ---------------------------------------------------------------------------------


async def test_login_saves_credentials_that_later_commands_use(
    world: World, pitstop: Invoke, tmp_path: Path
) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner, name="Blue")
    result = await pitstop(
        "login", "--url", world.url, "--email", "ada@example.com", "--password", owner.password
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Signed in as ada@example.com at {world.url}"
    saved = CredentialStore(tmp_path / "config")
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
    credentials = saved.load()
    assert credentials is not None and credentials.url == world.url
    assert credentials.refresh_token and credentials.expires_at

    # No PITSTOP_URL, no PITSTOP_TOKEN: the saved sign-in is used.
    listed = await pitstop("vehicles")
    assert listed.exit_code == 0, listed.output
    assert car.vin in listed.output and "Blue" in listed.output

    out = await pitstop("logout")
    assert out.exit_code == 0 and "Signed out." in out.output
    assert not saved.path.exists()
    after = await pitstop("vehicles")
    assert after.exit_code == 1
    assert after.output == (
        "You are not signed in to http://127.0.0.1:8000.\nHint: run `pitstop login`.\n"
    )


async def test_login_asks_for_what_is_missing_and_hides_the_password(
    world: World, pitstop: Invoke
) -> None:
    owner = await world.account("ada@example.com")
    result = await pitstop("login", url=world.url, input=f"ada@example.com\n{owner.password}\n")
    assert result.exit_code == 0, result.output
    assert "Email:" in result.output and "Password:" in result.output
    assert owner.password not in result.output
    assert f"Signed in as ada@example.com at {world.url}" in result.output


async def test_login_with_a_wrong_password_says_so(world: World, pitstop: Invoke) -> None:
    await world.account("ada@example.com")
    result = await pitstop(
        "login", "--url", world.url, "--email", "ada@example.com", "--password", "wrong-wrong"
    )
    assert result.exit_code == 1
    assert result.output == "The email or password is wrong.\nHint: check the email and password.\n"


# --- reading ------------------------------------------------------------------------------------


async def test_vehicles_lists_the_cars_in_a_table(world: World, pitstop: Invoke) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner, name="Blue")
    vehicle = await world.rt.registry.find(car.vin)
    assert vehicle is not None
    result = await pitstop("vehicles", token=owner.token, url=world.url)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if car.vin in line)
    assert "Blue" in row and str(vehicle.id) in row and "online" in row
    assert "Name" in result.output and "State" in result.output

    as_json = await pitstop("vehicles", "--json", token=owner.token, url=world.url)
    assert [(v["vin"], v["state"]) for v in json.loads(as_json.stdout)] == [(car.vin, "online")]


async def test_status_shows_battery_range_charging_location_climate_and_locks(
    world: World, pitstop: Invoke
) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner, name="Blue", battery_level=64.0, odometer_km=16093.44)
    result = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "Blue" in result.output and car.vin in result.output and "online" in result.output
    assert "64 %" in lines["Battery"]
    assert "km (" in lines["Range"] and "mi)" in lines["Range"]
    assert "Disconnected" in lines["Charging"] and "limit 80 %" in lines["Charging"]
    assert "52.52" in lines["Location"] and "13.40" in lines["Location"]
    assert "parked (shift P)" in lines["Location"]
    assert "off" in lines["Climate"] and "set to 21.0 °C" in lines["Climate"]
    assert lines["Locks"].split()[1] == "locked"
    assert "16,093 km (10,000 mi)" in lines["Odometer"]

    as_json = await pitstop("status", car.vin, "--json", token=owner.token, url=world.url)
    data = json.loads(as_json.stdout)
    assert data["charge_state"]["battery_level"] == 64 and data["vin"] == car.vin


async def test_unlock_then_status_shows_unlocked(world: World, pitstop: Invoke) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)
    unlocked = await pitstop("unlock", car.vin, token=owner.token, url=world.url)
    assert unlocked.exit_code == 0 and unlocked.output.strip() == f"Unlocked {car.vin}."
    status = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert "UNLOCKED" in status.output
    locked = await pitstop("lock", car.vin, "--json", token=owner.token, url=world.url)
    assert json.loads(locked.stdout) == {
        "vin": car.vin,
        "command": "door_lock",
        "result": True,
        "reason": "",
    }


# --- commands -----------------------------------------------------------------------------------


async def test_a_refused_command_prints_the_reason_and_exits_1(
    world: World, pitstop: Invoke
) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)  # not plugged in
    result = await pitstop("charge", "start", car.vin, token=owner.token, url=world.url)
    assert result.exit_code == 1
    assert result.output.strip() == "The car refused charge_start: cable_not_connected"

    as_json = await pitstop("charge", "start", car.vin, "--json", token=owner.token, url=world.url)
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["reason"] == "cable_not_connected"


async def test_charging_stop_start_and_limit(world: World, pitstop: Invoke) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner, setup=plugged_in, battery_level=50.0)
    stopped = await pitstop("charge", "stop", car.vin, token=owner.token, url=world.url)
    assert stopped.exit_code == 0 and f"Charging stopped on {car.vin}." in stopped.output
    started = await pitstop("charge", "start", car.vin, token=owner.token, url=world.url)
    assert started.exit_code == 0 and f"Charging started on {car.vin}." in started.output
    again = await pitstop("charge", "start", car.vin, token=owner.token, url=world.url)
    assert again.exit_code == 0 and "already charging" in again.output

    limit = await pitstop("charge", "limit", car.vin, "90", token=owner.token, url=world.url)
    assert limit.exit_code == 0 and "set to 90 %" in limit.output

    # A few seconds after the start, current flows: status shows the power and the time to full.
    vehicle = await world.rt.registry.find(car.vin)
    assert vehicle is not None
    await world.eventually(
        lambda: (
            world.rt.states.get(vehicle.id).sections["charge_state"]["charging_state"] == "Charging"
        )
    )
    status = await pitstop("status", car.vin, token=owner.token, url=world.url)
    charging = next(line for line in status.output.splitlines() if line.startswith("Charging"))
    assert "Charging, limit 90 %" in charging
    assert re.search(r", \d+ kW, full in (\d+ h )?\d+ min", charging), charging


async def test_an_invalid_charge_limit_shows_the_servers_message(
    world: World, pitstop: Invoke
) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)
    result = await pitstop("charge", "limit", car.vin, "101", token=owner.token, url=world.url)
    assert result.exit_code == 1
    assert result.output == (
        "percent must be between 50 and 100.\n"
        "Hint: the command's --help lists the accepted values.\n"
    )
    assert "Traceback" not in result.output


async def test_climate_on_temperature_and_off(world: World, pitstop: Invoke) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)
    for args in (("climate", "on", car.vin), ("climate", "temp", car.vin, "21.5")):
        result = await pitstop(*args, token=owner.token, url=world.url)
        assert result.exit_code == 0, result.output
    status = await pitstop("status", car.vin, token=owner.token, url=world.url)
    climate = next(line for line in status.output.splitlines() if line.startswith("Climate"))
    assert "on," in climate and "set to 21.5 °C" in climate
    off = await pitstop("climate", "off", car.vin, token=owner.token, url=world.url)
    assert off.exit_code == 0 and f"Climate off in {car.vin}." in off.output
    too_hot = await pitstop("climate", "temp", car.vin, "40", token=owner.token, url=world.url)
    assert too_hot.exit_code == 1
    assert "driver_temp must be between 15.0 and 28.0 °C." in too_hot.output


async def test_charge_schedules_add_list_and_remove(world: World, pitstop: Invoke) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner)
    added = await pitstop(
        "charge",
        "schedule",
        "add",
        car.vin,
        "--days",
        "Weekdays",
        "--start",
        "23:00",
        "--end",
        "06:00",
        token=owner.token,
        url=world.url,
    )
    assert added.exit_code == 0, added.output
    assert "Added a charge schedule" in added.output
    once = await pitstop(
        "charge",
        "schedule",
        "add",
        car.vin,
        "--start",
        "1:30",
        "--one-time",
        token=owner.token,
        url=world.url,
    )
    assert once.exit_code == 0, once.output

    listed = await pitstop("charge", "schedule", "list", car.vin, token=owner.token, url=world.url)
    rows = [line.split("│") for line in listed.output.splitlines() if "│" in line]
    cells = [[c.strip() for c in row if c.strip()] for row in rows]
    assert ["1", "—", "Weekdays", "23:00", "06:00", "no", "yes"] in cells
    assert ["2", "—", "All", "01:30", "—", "yes", "yes"] in cells

    as_json = await pitstop(
        "charge", "schedule", "list", car.vin, "--json", token=owner.token, url=world.url
    )
    assert [s["id"] for s in json.loads(as_json.stdout)] == [1, 2]

    removed = await pitstop(
        "charge", "schedule", "remove", car.vin, "1", token=owner.token, url=world.url
    )
    assert removed.exit_code == 0 and f"Removed charge schedule 1 from {car.vin}." in removed.output
    missing = await pitstop(
        "charge", "schedule", "remove", car.vin, "1", token=owner.token, url=world.url
    )
    assert missing.exit_code == 1
    assert "The car refused remove_charge_schedule: not_found" in missing.output
    bad_time = await pitstop(
        "charge", "schedule", "add", car.vin, "--start", "25:00", token=owner.token, url=world.url
    )
    assert bad_time.exit_code == 2 and "23:00" in bad_time.output


# --- failures -----------------------------------------------------------------------------------


async def test_an_unknown_vin_hints_at_the_vehicle_list(world: World, pitstop: Invoke) -> None:
    owner = await world.account("ada@example.com")
    result = await pitstop("status", "5YJ3E1EA7PF999999", token=owner.token, url=world.url)
    assert result.exit_code == 1
    assert result.output == (
        "You have no vehicle 5YJ3E1EA7PF999999.\nHint: `pitstop vehicles` lists yours.\n"
    )


async def test_a_bad_token_hints_at_login(world: World, pitstop: Invoke) -> None:
    result = await pitstop("vehicles", token="not-a-token", url=world.url)
    assert result.exit_code == 1
    assert "The access token is not valid" in result.output
    assert "Hint: run `pitstop login`." in result.output

    as_json = await pitstop("vehicles", "--json", token="not-a-token", url=world.url)
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"] == "invalid_token"


async def test_an_unreachable_server_is_one_sentence(pitstop: Invoke) -> None:
    url = closed_port_url()
    result = await pitstop("vehicles", token="t", url=url)
    assert result.exit_code == 1
    *retries, sentence, hint = result.output.splitlines()
    assert (
        sentence == f"Cannot reach the Pitstop server at {url}: is it running? Check PITSTOP_URL."
    )
    assert hint == "Hint: start one with `pitstop serve`, or set PITSTOP_URL to where yours runs."
    # A read is tried 4 times, and the user is told why they wait.
    assert len(retries) == 3
    assert all(
        r.startswith("No answer from the server (ConnectError): trying again in") for r in retries
    )


async def test_an_asleep_car_hints_at_waking_it_and_wake_brings_it_online(
    world: World, pitstop: Invoke
) -> None:
    owner = await world.account("ada@example.com")
    car = await asleep_car(world, owner)
    status = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert status.exit_code == 1
    assert status.output == (
        f"The car {car.vin} is asleep.\nHint: wake it with `pitstop wake {car.vin}`.\n"
    )
    woken = await pitstop("wake", car.vin, "--timeout", "10", token=owner.token, url=world.url)
    assert woken.exit_code == 0, woken.output
    assert f"({car.vin}) is online." in woken.stdout
    unlocked = await pitstop("unlock", car.vin, token=owner.token, url=world.url)
    assert unlocked.exit_code == 0, unlocked.output


async def test_a_car_without_a_link_is_reported_offline(world: World, pitstop: Invoke) -> None:
    owner = await world.account("ada@example.com")
    car = await world.car(owner, connect=False)
    status = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert status.exit_code == 1
    assert status.output.splitlines()[0] == (
        f"The car {car.vin} is offline: it has no connection to Pitstop right now."
    )
    woken = await pitstop("wake", car.vin, "--timeout", "2", token=owner.token, url=world.url)
    assert woken.exit_code == 1 and "offline" in woken.output


async def test_status_without_the_location_scope_still_shows_the_rest(
    world: World, pitstop: Invoke
) -> None:
    owner = await world.account(
        "ada@example.com", scopes=frozenset({"openid", "vehicle_device_data", "vehicle_cmds"})
    )
    car = await world.car(owner, battery_level=64.0)
    status = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert status.exit_code == 0, status.output
    assert "hidden (the token lacks the vehicle_location scope)" in status.output
    assert "64 %" in status.output
