"""The one error the service package raises: what went wrong, for which field, as which HTTP answer."""

from __future__ import annotations


class ServiceError(ValueError):
    """A service request that cannot be honoured; nothing was stored.

    `status` is the HTTP status (404 unknown, 409 conflict with what is booked, 422 bad value),
    `error` the envelope's enum and `field` the request field the sentence is about.
    """

    def __init__(
        self, message: str, field: str = "body", *, status: int = 422, error: str = ""
    ) -> None:
        super().__init__(message)
        self.field = field
        self.status = status
        self.error = error or {404: "not_found", 409: "conflict"}.get(status, "invalid_field")

    @property
    def messages(self) -> dict[str, list[str]]:
        return {self.field: [str(self)]}


def not_found(message: str, field: str = "id") -> ServiceError:
    return ServiceError(message, field, status=404)


def conflict(message: str, field: str = "starts_at", error: str = "conflict") -> ServiceError:
    return ServiceError(message, field, status=409, error=error)
