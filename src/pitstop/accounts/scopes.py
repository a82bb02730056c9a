"""Scopes, named as Tesla's, plus Pitstop's operator scope."""

from __future__ import annotations

OPENID = "openid"
OFFLINE_ACCESS = "offline_access"
USER_DATA = "user_data"
VEHICLE_DEVICE_DATA = "vehicle_device_data"
VEHICLE_LOCATION = "vehicle_location"
VEHICLE_CMDS = "vehicle_cmds"
VEHICLE_CHARGING_CMDS = "vehicle_charging_cmds"
OPERATOR = "operator"

OWNER_SCOPES = frozenset(
    {
        OPENID,
        OFFLINE_ACCESS,
        USER_DATA,
        VEHICLE_DEVICE_DATA,
        VEHICLE_LOCATION,
        VEHICLE_CMDS,
        VEHICLE_CHARGING_CMDS,
    }
)
OPERATOR_SCOPES = frozenset({OPENID, OFFLINE_ACCESS, USER_DATA, OPERATOR})

ROLE_SCOPES = {"owner": OWNER_SCOPES, "operator": OPERATOR_SCOPES}


def parse(text: str) -> frozenset[str]:
    return frozenset(text.split())


def render(scopes: frozenset[str] | set[str]) -> str:
    return " ".join(sorted(scopes))
