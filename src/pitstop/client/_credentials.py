"""Where the client keeps its tokens between runs, and which ones it uses.

One JSON file, `credentials.json`, readable by its owner only (mode 0600), in `PITSTOP_CONFIG_DIR`
or else the platform's config dir for "pitstop". `PITSTOP_URL` and `PITSTOP_TOKEN` override what
is stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs

from pitstop.client._errors import LOGIN_HINT, PitstopError

ENV_URL = "PITSTOP_URL"
ENV_TOKEN = "PITSTOP_TOKEN"
ENV_CONFIG_DIR = "PITSTOP_CONFIG_DIR"

#: Where `pitstop serve` listens unless told otherwise.
DEFAULT_URL = "http://127.0.0.1:8000"

FILE_NAME = "credentials.json"


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "http://" + url
    return url


@dataclass(frozen=True)
class Credentials:
    """A server and the tokens for it. `expires_at` is when the access token stops working."""

    url: str
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None, *, leeway: float = 30.0) -> bool:
        """True if the access token has expired, or will within `leeway` seconds."""
        if self.expires_at is None:
            return False
        now = now or datetime.now(UTC)
        return self.expires_at - timedelta(seconds=leeway) <= now

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Credentials:
        expires = data.get("expires_at")
        expires_at = None
        if isinstance(expires, str) and expires:
            expires_at = datetime.fromisoformat(expires)
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
        elif isinstance(expires, int | float):
            expires_at = datetime.fromtimestamp(expires, UTC)

        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value else None

        return cls(
            url=normalize_url(str(data.get("url") or DEFAULT_URL)),
            access_token=text("access_token"),
            refresh_token=text("refresh_token"),
            expires_at=expires_at,
        )


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """`PITSTOP_CONFIG_DIR`, or the platform's user config dir for pitstop."""
    env = os.environ if env is None else env
    configured = env.get(ENV_CONFIG_DIR)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_config_dir("pitstop", appauthor=False))


class CredentialStore:
    """The credentials file: load, save (atomically, mode 0600) and delete."""

    def __init__(
        self, directory: Path | None = None, *, env: Mapping[str, str] | None = None
    ) -> None:
        self.directory = directory if directory is not None else config_dir(env)

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def load(self) -> Credentials | None:
        """The stored credentials, or None if there are none."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PitstopError(
                f"Cannot read the credentials file {self.path}: {exc.strerror}.", LOGIN_HINT
            ) from exc
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return Credentials.from_json(data)
        except ValueError as exc:
            raise PitstopError(
                f"The credentials file {self.path} is damaged.", f"{LOGIN_HINT} to write it anew"
            ) from exc

    def save(self, credentials: Credentials) -> None:
        """Write `credentials`, replacing the file at once so a crash never leaves half of it."""
        write_private(self.path, json.dumps(credentials.to_json(), indent=2) + "\n")

    def delete(self) -> bool:
        """Forget the stored credentials; True if there were some."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600), replacing the file at once."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def resolve(
    env: Mapping[str, str] | None = None, store: CredentialStore | None = None
) -> tuple[Credentials, bool]:
    """The credentials to use, and whether they are the stored ones (so refreshed tokens are saved).

    `PITSTOP_URL` overrides the stored server, `PITSTOP_TOKEN` the stored token. Tokens stored for
    another server are not sent to this one.
    """
    env = os.environ if env is None else env
    store = store or CredentialStore(env=env)
    stored = store.load()
    url = normalize_url(env.get(ENV_URL) or (stored.url if stored else "") or DEFAULT_URL)
    token = env.get(ENV_TOKEN)
    if token:
        return Credentials(url=url, access_token=token), False
    if stored is not None and stored.url == url:
        return stored, True
    return Credentials(url=url), False


def with_grant(
    credentials: Credentials,
    access_token: str,
    refresh_token: str | None,
    expires_in: float,
    now: datetime | None = None,
) -> Credentials:
    now = now or datetime.now(UTC)
    return replace(
        credentials,
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=now + timedelta(seconds=expires_in),
    )
