"""Signed unsubscribe links: one click in a mail stops that topic's email for that user.

The token is `base64url("<user id>:<topic>").<signature>`, signed with the server secret; it
does not expire (an unsubscribe link must keep working). GET shows a confirmation page (mail
scanners follow links, so a GET never unsubscribes, RFC 8058); POST unsubscribes, which is
also what mail clients do for `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
"""

from __future__ import annotations

import hashlib
import hmac

from pitstop.notify.b64url import b64url, b64url_decode

PATH = "/notifications/unsubscribe"
#: Where people who are not users (status page subscribers) unsubscribe, by address.
ADDRESS_PATH = "/status/unsubscribe"
DEFAULT_BASE = "http://127.0.0.1:8000"


class UnsubscribeLinks:
    def __init__(self, secret: str, base_url: str = "") -> None:
        self._key = hashlib.sha256(b"pitstop-unsubscribe:" + secret.encode()).digest()
        #: Where links point: the configured public URL; without one, the address signed-in
        #: users' requests last came in on (`seen`), and before any, where the server listens
        #: (`listening`), or the default local server.
        self.configured = bool(base_url)
        self.base_url = base_url.rstrip("/") or DEFAULT_BASE
        self._learned = False

    def listening(self, url: str) -> None:
        """The server listens on `url`: links use it until a signed-in user's request or a
        configured public URL says better (mail sent before anyone signed in needs one too)."""
        if not (self.configured or self._learned):
            self.base_url = url.rstrip("/")

    def seen(self, base_url: str) -> None:
        """A signed-in user's request came in on `base_url`: links use it unless a public URL
        is configured. Only signed-in users' requests teach it (the feed, the preferences):
        an anonymous one could send any Host header and steer every later mail's links."""
        if not self.configured:
            self.base_url = base_url.rstrip("/")
            self._learned = True

    def _sign(self, payload: str) -> str:
        return b64url(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:18])

    def token(self, user_id: int, topic: str) -> str:
        payload = f"{user_id}:{topic}"
        return f"{b64url(payload.encode())}.{self._sign(payload)}"

    def read(self, token: str) -> tuple[int, str] | None:
        """(user id, topic) if `token` is one of ours, else None."""
        encoded, _, signature = token.partition(".")
        try:
            payload = b64url_decode(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        user, _, topic = payload.partition(":")
        if not user.isdigit() or not topic:
            return None
        return int(user), topic

    def url(self, user_id: int, topic: str) -> str:
        return f"{self.base_url}{PATH}/{self.token(user_id, topic)}"

    def address_token(self, address: str) -> str:
        payload = f"address:{address.lower()}"
        return f"{b64url(payload.encode())}.{self._sign(payload)}"

    def read_address(self, token: str) -> str | None:
        """The address in `token` if it is one of ours (an address link), else None."""
        encoded, _, signature = token.partition(".")
        try:
            payload = b64url_decode(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        kind, _, address = payload.partition(":")
        return address if kind == "address" and address else None

    def address_url(self, address: str) -> str:
        """A link that ends every status mail to `address` (a subscriber, not a user)."""
        return f"{self.base_url}{ADDRESS_PATH}/{self.address_token(address)}"
