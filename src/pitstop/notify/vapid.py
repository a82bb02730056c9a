"""The server's VAPID identity (RFC 8292): the key push services know this server by.

A browser's subscription is bound to the public key the app subscribed with, so the key must
be the same in every process and across restarts. It is `PITSTOP_VAPID_PRIVATE_KEY` when set,
otherwise derived from the server secret (HKDF), so that every process sharing the secret
shares the key without storing another one. Changing either orphans existing subscriptions:
push services then refuse our messages (403) and owners subscribe again.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from py_vapid import Vapid

from pitstop.clock import Clock
from pitstop.notify.b64url import b64url, b64url_decode

#: The order of P-256's base point: a private key is an integer in [1, N - 1].
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: How long a signed token is valid (push services accept at most 24 h), and how long before
#: its end a fresh one is made, in seconds.
TOKEN_TTL = 12 * 3600
RENEW_BEFORE = 3600


def derive_private_key(secret: str) -> ec.EllipticCurvePrivateKey:
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=b"pitstop vapid").derive(
        secret.encode()
    )
    # 48 bytes reduced modulo N: uniform enough, and never zero.
    return ec.derive_private_key(int.from_bytes(okm, "big") % (_N - 1) + 1, ec.SECP256R1())


def load_private_key(raw: str) -> ec.EllipticCurvePrivateKey:
    """A key given as base64url of its 32-byte scalar (what `pitstop`'s docs tell to make)."""
    try:
        scalar = b64url_decode(raw.strip())
    except ValueError as exc:
        raise ValueError("vapid_private_key is not base64url") from exc
    if len(scalar) != 32 or not 0 < int.from_bytes(scalar, "big") < _N:
        raise ValueError("vapid_private_key must be a P-256 private key: 32 bytes, base64url")
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


@dataclass(frozen=True)
class _Token:
    header: str
    renew_at: float


class VapidKey:
    """Signs the Authorization header for each push service, reusing a token while it is fresh."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, subject: str, clock: Clock) -> None:
        self._vapid = Vapid(key)
        self.subject = subject
        self.clock = clock
        self._tokens: dict[str, _Token] = {}
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        #: What the app passes to `pushManager.subscribe` as `applicationServerKey`.
        self.public_key = b64url(point)

    def authorization(self, audience: str) -> str:
        """`vapid t=<JWT>,k=<public key>` for the push service at `audience` (its origin)."""
        now = self.clock.timestamp()
        token = self._tokens.get(audience)
        if token is None or now >= token.renew_at:
            claims = {"aud": audience, "sub": self.subject, "exp": int(now) + TOKEN_TTL}
            header = str(self._vapid.sign(claims)["Authorization"])
            token = _Token(header, now + TOKEN_TTL - RENEW_BEFORE)
            self._tokens[audience] = token
        return token.header
