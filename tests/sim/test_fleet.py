"""Fleets of simulated cars: their starting situations and the secrets they keep."""

from __future__ import annotations

import random
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pitstop.clock import ManualClock
from pitstop.sim.fleet import SITUATIONS, CarCredential, CredentialStore, build_model, make_vin


def test_car_secrets_are_kept_private_and_read_back(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "sim" / "cars.json")
    creds = {make_vin(1): CarCredential(vin=make_vin(1), secret="s3cret", name="Sim 1")}
    store.save("http://pitstop.test", creds)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load("http://pitstop.test") == creds
    assert store.load("http://elsewhere.test") == {}


@pytest.mark.parametrize("situation", SITUATIONS)
def test_each_situation_starts_the_car_doing_what_it_says(situation: str) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    credential = CarCredential(vin=make_vin(1), secret="s")
    model = build_model(credential, situation, now_clock=clock, rng=random.Random(1))
    signals = model.signals()
    doing = {
        "parked_asleep": model.state == "asleep" and signals["drive_state.shift_state"] == "P",
        "parked": model.state == "online" and signals["drive_state.shift_state"] == "P",
        "charging": signals["charge_state.charging_state"] in ("Starting", "Charging"),
        "driving": signals["drive_state.shift_state"] == "D",
    }
    assert doing[situation]


def test_an_unknown_situation_is_an_error_not_a_parked_car() -> None:
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="situation"):
        build_model(
            CarCredential(vin=make_vin(1), secret="s"),
            "drivng",
            now_clock=clock,
            rng=random.Random(1),
        )
