"""`PitstopClient`: the async client of a Pitstop server (Tesla Fleet API dialect), over httpx."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from pitstop import __version__
from pitstop.client._credentials import (
    Credentials,
    CredentialStore,
    normalize_url,
    resolve,
    with_grant,
)
from pitstop.client._errors import (
    LOGIN_HINT,
    AuthError,
    PitstopError,
    ServerUnavailable,
    Unreachable,
    VehicleAsleep,
    VehicleOffline,
    VehicleUnavailable,
    error_from_response,
    unreachable,
)
from pitstop.client._last_known import LastKnownStore
from pitstop.client._models import CommandResult, Notice, TokenGrant, User, Vehicle
from pitstop.client._retry import (
    DEFAULT_RETRY,
    RetryHook,
    RetryPolicy,
    Sleep,
    log_retry,
    send_with_retry,
)
from pitstop.client._service import Service
from pitstop.client._windows import Windows
from pitstop.clock import Clock, SystemClock

#: The OAuth client the command line signs in as (it may use the password grant).
CLI_CLIENT_ID = "pitstop-cli"

#: Requests that are safe to repeat, and so are retried on 503, 429 and connection failures.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
#: How long a command stays worth sending, in seconds (the car's own expiry is shorter still).
COMMAND_EXPIRY = 30.0


def _path(key: str) -> str:
    return quote(str(key), safe="")


def _error_enum(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


class PitstopClient:
    """An async client of one Pitstop server.

    >>> async with PitstopClient("http://127.0.0.1:8000", token=token) as pitstop:
    ...     for car in await pitstop.vehicles():
    ...         print(car.display_name, car.state)

    Every failure is raised as a `PitstopError` subclass with a readable `message` and a `hint`
    (a 503 reads "Server maintenance (security update): Pitstop expects to be back at 14:30, in
    12 min. Status: ..."). Reads (GET) are retried on 503, 429 and connection failures following
    `retry`; a command is resent only when the server certainly did not act on it, and never
    after its expiry, since a car must not unlock late or honk twice.

    With `last_known`, each car's data read is remembered, and a read that meets a 503 or no
    answer raises with `last_known` set to what was last seen (with its age). `notice` tells
    what the last answer said about maintenance (read-only now, or a window coming).

    `transport` replaces the network (e.g. `httpx.MockTransport`); `sleep` replaces the waits
    between retries (tests record them instead of sleeping); `clock` is where time comes from
    (token expiry, waiting for a car; default: the system's); `on_retry` hears of each retry.
    With `credentials` holding a refresh token the client renews an expired access token once
    and, with a `store`, saves the new pair.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        credentials: Credentials | None = None,
        store: CredentialStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 15.0,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        on_retry: RetryHook | None = log_retry,
        rng: random.Random | None = None,
        client_id: str = CLI_CLIENT_ID,
        last_known: LastKnownStore | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.base_url = normalize_url(base_url)
        creds = credentials or Credentials(url=self.base_url)
        if token is not None:
            creds = Credentials(url=self.base_url, access_token=token)
        self._credentials = Credentials(
            url=self.base_url,
            access_token=creds.access_token,
            refresh_token=creds.refresh_token,
            expires_at=creds.expires_at,
        )
        self._store = store
        #: The server a saved sign-in is for, when it is not this one.
        self._signed_in_elsewhere: str | None = None
        self._renewing = asyncio.Lock()
        self.retry = retry
        self.client_id = client_id
        self._clock: Clock = clock or SystemClock()
        self._sleep = sleep or self._clock.sleep
        self._on_retry = on_retry
        self._rng = rng
        self.last_known = last_known
        #: The reader's time zone for sentences (default: PITSTOP_TZ, TZ, else the system's).
        self.tz = tz
        #: What the last answer said about maintenance.
        self.notice = Notice()
        #: Maintenance windows, for operators: `await client.windows.schedule(...)`.
        self.windows = Windows(self)
        #: Service centers and appointments: `await client.service.book(...)`.
        self.service = Service(self)
        try:
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                transport=transport,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                headers={
                    "Accept": "application/json",
                    "User-Agent": f"pitstop-client/{__version__}",
                },
                follow_redirects=False,
            )
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise PitstopError(
                f"{base_url!r} is not a valid server address.",
                "check PITSTOP_URL or --url, e.g. http://127.0.0.1:8000",
            ) from exc

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        store: CredentialStore | None = None,
        **kwargs: Any,
    ) -> PitstopClient:
        """A client for the stored credentials, overridden by `PITSTOP_URL` and `PITSTOP_TOKEN`."""
        store = store or CredentialStore(env=env)
        credentials, stored = resolve(env, store)
        kwargs.setdefault("last_known", LastKnownStore(store.directory))
        client = cls(
            credentials.url, credentials=credentials, store=store if stored else None, **kwargs
        )
        if not stored and not credentials.access_token:
            saved = store.load()
            client._signed_in_elsewhere = saved.url if saved and saved.access_token else None
        return client

    @property
    def credentials(self) -> Credentials:
        """The server and tokens in use (after a sign-in or a refresh, the new ones)."""
        return self._credentials

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the one boundary: HTTP in, data or a PitstopError out --------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        data: Mapping[str, str] | None,
        authenticated: bool,
        expires_in: float | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if authenticated and self._credentials.access_token:
            headers["Authorization"] = f"Bearer {self._credentials.access_token}"

        async def once() -> httpx.Response:
            return await self._http.request(
                method, path, params=params, json=json, data=data, headers=headers
            )

        try:
            return await send_with_retry(
                once,
                method=method,
                url=self.base_url + path,
                policy=self.retry,
                retryable=method in IDEMPOTENT,
                expires_in=expires_in,
                sleep=self._sleep,
                on_retry=self._on_retry,
                rng=self._rng,
            )
        except httpx.TransportError as exc:
            raise unreachable(exc, self.base_url) from exc
        except (httpx.InvalidURL, httpx.HTTPError) as exc:
            raise PitstopError(f"The request to {self.base_url} failed: {exc}.") from exc

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        authenticated: bool = True,
        vehicle: str = "",
        auth_hint: str = LOGIN_HINT,
        expires_in: float | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON body, or raise the matching PitstopError."""
        if authenticated and not self._credentials.access_token:
            if self._signed_in_elsewhere:
                raise AuthError(
                    f"You are not signed in to {self.base_url}: your saved sign-in is for "
                    f"{self._signed_in_elsewhere}.",
                    f"run `pitstop login --url {self.base_url}`, or unset PITSTOP_URL",
                )
            raise AuthError(f"You are not signed in to {self.base_url}.", LOGIN_HINT)
        refreshed = False
        if (
            authenticated
            and self._credentials.refresh_token
            and self._credentials.expired(self._clock.now())
        ):
            await self._renew(self._credentials.access_token)
            refreshed = True
        while True:
            sent_with = self._credentials.access_token
            response = await self._send(
                method,
                path,
                params=params,
                json=json,
                data=data,
                authenticated=authenticated,
                expires_in=expires_in,
            )
            if (
                response.status_code == 401
                and authenticated
                and not refreshed
                and self._credentials.refresh_token
                and _error_enum(response) == "token_expired"
            ):
                # Refused before anything ran, so sending it again is safe even for a command.
                await self._renew(sent_with)
                refreshed = True
                continue
            break
        self.notice = Notice.from_headers(response.headers)
        if response.status_code >= 400:
            raise error_from_response(
                response, vehicle=vehicle, auth_hint=auth_hint, now=self._clock.now(), tz=self.tz
            )
        try:
            return response.json()
        except ValueError as exc:
            raise PitstopError(
                f"The server at {self.base_url} answered with something that is not JSON.",
                "check that PITSTOP_URL points to a Pitstop server",
                status=response.status_code,
            ) from exc

    async def _response(self, method: str, path: str, **kwargs: Any) -> Any:
        """The `response` member of a Tesla envelope."""
        body = await self._call(method, path, **kwargs)
        if not isinstance(body, dict) or "response" not in body:
            raise PitstopError(
                f"The server at {self.base_url} answered in an unexpected shape.",
                "check that PITSTOP_URL points to a Pitstop server",
            )
        return body["response"]

    # --- signing in ---------------------------------------------------------------------------

    def _adopt(self, grant: TokenGrant) -> None:
        self._credentials = with_grant(
            self._credentials,
            grant.access_token,
            grant.refresh_token,
            grant.expires_in,
            now=self._clock.now(),
        )
        if self._store is not None:
            try:
                self._store.save(self._credentials)
            except OSError as exc:
                raise PitstopError(
                    f"Cannot save the new tokens in {self._store.path}: {exc.strerror}.",
                    "set PITSTOP_CONFIG_DIR to a folder you can write, then `pitstop login`",
                ) from exc

    async def _token(self, form: dict[str, str], auth_hint: str) -> TokenGrant:
        body = await self._call(
            "POST", "/oauth2/v3/token", data=form, authenticated=False, auth_hint=auth_hint
        )
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PitstopError(
                f"The server at {self.base_url} gave no access token.",
                "check that PITSTOP_URL points to a Pitstop server",
            )
        grant = TokenGrant.from_json(body)
        self._adopt(grant)
        return grant

    async def token_password(self, email: str, password: str) -> TokenGrant:
        """Sign in with an email and password (the first-party password grant)."""
        return await self._token(
            {
                "grant_type": "password",
                "client_id": self.client_id,
                "username": email,
                "password": password,
            },
            "check the email and password",
        )

    async def refresh(self, refresh_token: str | None = None) -> TokenGrant:
        """Trade a refresh token (default: the one held) for a new pair; the old one stops working."""
        token = refresh_token or self._credentials.refresh_token
        if not token:
            raise PitstopError("There is no refresh token to renew the session with.", LOGIN_HINT)
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": token, "client_id": self.client_id},
            LOGIN_HINT,
        )

    async def _renew(self, stale: str | None) -> None:
        """Refresh the pair once, unless a concurrent call already replaced the `stale` token."""
        async with self._renewing:
            if self._credentials.access_token != stale:
                return
            await self._refresh_or_explain()

    async def _refresh_or_explain(self) -> None:
        try:
            await self.refresh()
        except PitstopError as exc:
            if exc.status in (400, 401):
                raise type(exc)(
                    "Your session has expired and could not be renewed.",
                    LOGIN_HINT,
                    status=exc.status,
                    error=exc.error,
                ) from exc
            raise

    async def revoke(self) -> None:
        """Revoke the tokens held (sign out on the server)."""
        for token in (self._credentials.refresh_token, self._credentials.access_token):
            if token:
                await self._call(
                    "POST", "/oauth2/v3/revoke", data={"token": token}, authenticated=False
                )

    # --- reads --------------------------------------------------------------------------------

    async def me(self) -> User:
        return User.from_json(await self._response("GET", "/api/1/users/me"))

    async def vehicles(self) -> list[Vehicle]:
        """Every car of the signed-in owner (all pages)."""
        cars: list[Vehicle] = []
        page = 1
        while True:
            body = await self._call(
                "GET", "/api/1/vehicles", params={"page": str(page), "per_page": "100"}
            )
            cars.extend(Vehicle.from_json(v) for v in body.get("response") or [])
            following = (body.get("pagination") or {}).get("next")
            if not following or following <= page:
                return cars
            page = int(following)

    async def vehicle(self, key: str) -> Vehicle:
        """One car by VIN, id or id_s (its state, without waking it)."""
        data = await self._response("GET", f"/api/1/vehicles/{_path(key)}", vehicle=key)
        return Vehicle.from_json(data)

    async def vehicle_data(
        self, key: str, endpoints: Sequence[str] | str | None = None
    ) -> dict[str, Any]:
        """The car's data, Tesla-shaped (charge_state, climate_state, ...); `endpoints` filters.

        Reads never wake a car: an asleep one raises `VehicleAsleep`. When the server is down
        (`ServerUnavailable`, `Unreachable`) the error carries `last_known`, if there is one.
        """
        params = None
        if endpoints:
            names = [endpoints] if isinstance(endpoints, str) else list(endpoints)
            params = {"endpoints": ";".join(names)}
        try:
            data = await self._response(
                "GET", f"/api/1/vehicles/{_path(key)}/vehicle_data", params=params, vehicle=key
            )
        except (ServerUnavailable, Unreachable) as exc:
            if self.last_known is not None:
                exc.last_known = self.last_known.get(self.base_url, key)
            raise
        if not isinstance(data, dict):
            raise PitstopError(f"The server sent no data for {key}.")
        if self.last_known is not None:
            keys = [key, str(data.get("vin") or ""), str(data.get("id_s") or "")]
            self.last_known.put(self.base_url, keys, data, self._clock.now())
        return data

    # --- waking and commands ------------------------------------------------------------------

    async def wake_up(self, key: str) -> Vehicle:
        """Ask the car to wake; answers at once with its current state (poll until "online")."""
        data = await self._response("POST", f"/api/1/vehicles/{_path(key)}/wake_up", vehicle=key)
        return Vehicle.from_json(data)

    async def wake_and_wait(
        self,
        key: str,
        timeout: float = 60.0,  # noqa: ASYNC109 (one deadline for the whole wake, not one await)
        *,
        rewake_every: float = 10.0,
    ) -> Vehicle:
        """Wake the car and wait until it is online (at most `timeout` seconds).

        Raises `VehicleOffline` if the car has no link, `VehicleAsleep` if it did not wake in time.
        """
        now = self._clock.timestamp
        deadline = now() + timeout
        car = await self.wake_up(key)
        woken_at = now()
        interval = 0.1
        while not car.online:
            if now() >= deadline:
                raise (VehicleOffline if car.state == "offline" else VehicleAsleep)(
                    f"The car {key} did not wake up within {timeout:g} s.",
                    "it may be out of coverage: try again later",
                    state=car.state,
                    vehicle=key,
                )
            await self._clock.sleep(min(interval, max(0.0, deadline - now())))
            interval = min(interval * 2, 2.0)
            if car.state == "asleep" and now() - woken_at >= rewake_every:
                woken_at = now()
                try:
                    car = await self.wake_up(key)
                    continue
                except VehicleUnavailable:
                    pass  # between links for a moment; keep polling until the deadline
            car = await self.vehicle(key)
        return car

    async def command(
        self, key: str, name: str, /, *, expires_in: float = COMMAND_EXPIRY, **params: Any
    ) -> CommandResult:
        """Send command `name` with `params`; a car that refuses gives `result=False` and a reason.

        Resent (within the retry policy) only while the server certainly did not act on it
        (maintenance, overload, a connection never made) and only within `expires_in` seconds
        of the first try: a command that may have reached the car is never sent twice, and a
        late one is not sent at all.
        """
        try:
            data = await self._response(
                "POST",
                f"/api/1/vehicles/{_path(key)}/command/{_path(name)}",
                json=params,
                vehicle=key,
                expires_in=expires_in,
            )
        except ServerUnavailable as exc:
            exc.hint = "; ".join(
                h for h in (exc.hint, f"{name} was not carried out: send it again later") if h
            )
            raise
        if not isinstance(data, dict):
            raise PitstopError(f"The server gave no result for {name}.")
        return CommandResult(result=bool(data.get("result")), reason=str(data.get("reason") or ""))
