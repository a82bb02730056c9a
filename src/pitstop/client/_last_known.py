"""The cars' data as last read, kept between runs so an app can show it while Pitstop is down.

One JSON file, `last_known.json`, next to the credentials (mode 0600: it holds locations). Each
successful `vehicle_data` read is merged into it; when a later read meets a 503 or no answer,
the client hands the caller what it last saw, with its age, instead of nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pitstop.client._credentials import write_private

FILE_NAME = "last_known.json"
#: How many cars one file remembers per server (the most recently read win).
MAX_CARS = 50


@dataclass(frozen=True)
class LastKnown:
    """A car's data as last read (Tesla-shaped, like `vehicle_data`), and when it was read."""

    data: dict[str, Any]
    fetched_at: datetime

    @property
    def reported_at(self) -> datetime:
        """When the car reported this state: the newest section timestamp, else when it was read."""
        stamps = [
            section["timestamp"]
            for section in self.data.values()
            if isinstance(section, dict) and isinstance(section.get("timestamp"), int | float)
        ]
        if not stamps:
            return self.fetched_at
        return datetime.fromtimestamp(max(stamps) / 1000, UTC)

    def age(self, now: datetime) -> timedelta:
        return max(timedelta(0), now - self.reported_at)


class LastKnownStore:
    """The file of last-known car data, by server and by the key the car was read with."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # no file yet, or a damaged one: it is only a cache
        return data if isinstance(data, dict) else {}

    def get(self, server: str, key: str) -> LastKnown | None:
        entry = self._load().get(server, {}).get(key.upper())
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), dict):
            return None
        try:
            fetched_at = datetime.fromisoformat(str(entry["fetched_at"]))
        except (KeyError, ValueError):
            return None
        return LastKnown(data=entry["data"], fetched_at=fetched_at)

    def put(self, server: str, keys: list[str], data: dict[str, Any], now: datetime) -> None:
        """Merge `data` (possibly a few sections only) into what is known of the car."""
        everything = self._load()
        cars: dict[str, Any] = everything.setdefault(server, {})
        names = {k.upper() for k in keys if k}
        merged: dict[str, Any] = {}
        for name in names:
            old = cars.get(name)
            if isinstance(old, dict) and isinstance(old.get("data"), dict):
                merged.update(old["data"])
        merged.update(data)
        entry = {"fetched_at": now.isoformat(), "data": merged}
        for name in names:
            cars.pop(name, None)
            cars[name] = entry
        while len(cars) > MAX_CARS * 3:  # each car is stored under up to three keys
            cars.pop(next(iter(cars)))
        try:
            write_private(self.path, json.dumps(everything, separators=(",", ":")))
        except OSError:
            pass  # a cache that cannot be written must not fail the read it follows
