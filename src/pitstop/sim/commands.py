"""What a simulated car answers to a command, and how it reads the command's parameters.

Parameters arrive as JSON-ish values (the fleet API has checked them already; a scene or a test
may not have): the readers take numbers as numbers or digits, flags as booleans or words, and
fall back to a default rather than fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Params = Mapping[str, object]


@dataclass(frozen=True)
class CommandOutcome:
    """What the car answers to a command; `reason` (snake_case) explains a refusal."""

    result: bool
    reason: str = ""


OK = CommandOutcome(True)


def number(params: Params, key: str, default: float) -> float:
    value = params.get(key)
    if isinstance(value, int | float | str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def flag(params: Params, key: str, default: bool) -> bool:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
