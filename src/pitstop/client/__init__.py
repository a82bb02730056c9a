"""The Python client of a Pitstop server, used by the `pitstop` command and the web app.

    from pitstop.client import PitstopClient, VehicleAsleep

    async with PitstopClient.from_env() as pitstop:
        try:
            data = await pitstop.vehicle_data(vin)
        except VehicleAsleep:
            await pitstop.wake_and_wait(vin)

Failures are `PitstopError`s with a readable `message` and a `hint`; reads are retried on 503,
429 and connection failures following a `RetryPolicy`; commands are never retried.
"""

from pitstop.client._client import CLI_CLIENT_ID, PitstopClient
from pitstop.client._credentials import (
    DEFAULT_URL,
    ENV_CONFIG_DIR,
    ENV_TOKEN,
    ENV_URL,
    Credentials,
    CredentialStore,
    config_dir,
    resolve,
)
from pitstop.client._errors import (
    AuthError,
    Conflict,
    ForbiddenError,
    InvalidInput,
    Maintenance,
    NotFoundError,
    PitstopError,
    RateLimited,
    ServerUnavailable,
    Unreachable,
    VehicleAsleep,
    VehicleOffline,
    VehicleUnavailable,
)
from pitstop.client._last_known import LastKnown, LastKnownStore
from pitstop.client._models import CommandResult, Notice, TokenGrant, User, Vehicle
from pitstop.client._retry import (
    DEFAULT_RETRY,
    NO_RETRY,
    RetryEvent,
    RetryHook,
    RetryPolicy,
    is_testing,
    log_retry,
    set_testing,
)
from pitstop.client._service import (
    Appointment,
    Service,
    ServiceCenter,
    ServiceSlot,
    SlotList,
)
from pitstop.client._windows import Window, Windows, WindowUpdate

__all__ = [
    "CLI_CLIENT_ID",
    "DEFAULT_RETRY",
    "DEFAULT_URL",
    "ENV_CONFIG_DIR",
    "ENV_TOKEN",
    "ENV_URL",
    "NO_RETRY",
    "Appointment",
    "AuthError",
    "CommandResult",
    "Conflict",
    "CredentialStore",
    "Credentials",
    "ForbiddenError",
    "InvalidInput",
    "LastKnown",
    "LastKnownStore",
    "Maintenance",
    "NotFoundError",
    "Notice",
    "PitstopClient",
    "PitstopError",
    "RateLimited",
    "RetryEvent",
    "RetryHook",
    "RetryPolicy",
    "ServerUnavailable",
    "Service",
    "ServiceCenter",
    "ServiceSlot",
    "SlotList",
    "TokenGrant",
    "Unreachable",
    "User",
    "Vehicle",
    "VehicleAsleep",
    "VehicleOffline",
    "VehicleUnavailable",
    "Window",
    "WindowUpdate",
    "Windows",
    "config_dir",
    "is_testing",
    "log_retry",
    "resolve",
    "set_testing",
]
