"""A real push service for the Web Push tests, and a browser's side of a subscription.

`PushService` is an HTTP server on a real port that does what a browser vendor's push service
does with our requests: it checks the VAPID signature (RFC 8292) against the key the browser
subscribed with, and answers as scripted. `Browser` holds the keys a browser makes when it
subscribes, and decrypts what arrives (RFC 8291) as the browser would.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.notify.b64url import b64url, b64url_decode
from pitstop.server import RunningServer, start


@dataclass
class PushRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    requests: list[PushRequest] = field(default_factory=list)
    #: (status, headers) for the next requests, in order; then 201.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    running: RunningServer | None = None

    def app(self) -> Starlette:
        async def push(request: Request) -> Response:
            self.requests.append(
                PushRequest(request.url.path, dict(request.headers), await request.body())
            )
            status, headers = self.script.pop(0) if self.script else (201, {})
            return Response(b"", status, headers)

        return Starlette(routes=[Route("/push/{name}", push, methods=["POST"])])

    async def start(self) -> None:
        self.running = await start(self.app(), port=0)

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop()

    @property
    def origin(self) -> str:
        assert self.running is not None
        return self.running.url

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"


@dataclass
class Vapid:
    claims: dict[str, Any]
    public_key: str


def check_vapid(request: PushRequest, origin: str) -> Vapid:
    """What a push service checks: `vapid t=<ES256 JWT>,k=<key>`, signed by k, for us, fresh."""
    scheme, _, params = request.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    header, claims, signature = parts["t"].split(".")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
    raw = b64url_decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise AssertionError("the VAPID signature does not verify") from exc
    assert json.loads(b64url_decode(header)) == {"typ": "JWT", "alg": "ES256"}
    decoded = json.loads(b64url_decode(claims))
    assert decoded["aud"] == origin
    return Vapid(decoded, parts["k"])


@dataclass
class Browser:
    """The keys `pushManager.subscribe()` makes, and the decryption the browser does."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """As `PushSubscription.toJSON()` gives it."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def read(self, request: PushRequest) -> dict[str, Any]:
        assert request.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            request.body,
            private_key=self.private_key,
            auth_secret=self.auth,
            version="aes128gcm",
        )
        message: dict[str, Any] = json.loads(plain)
        return message
