"""OAuth tokens: issued, checked, refreshed and revoked.

Access tokens are JWTs shaped like Tesla's (clients that peek at the claims find `scp` and
`ou_code`), but their authority comes from the database: only the sha256 of each token is kept,
so revoking is a row update. Checked tokens are cached in memory for `token_cache_ttl` seconds,
which keeps the database off the hot path of every request.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta

import jwt
import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.accounts import scopes as scope_names
from pitstop.accounts.users import User, user_from_row
from pitstop.clock import Clock
from pitstop.db.tables import auth_codes, tokens, users
from pitstop.responses import ApiError

#: How many raw tokens `Tokens.cached` remembers the hash of.
HASH_MEMO_SIZE = 20_000


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Principal(msgspec.Struct, frozen=True):
    """Who is calling, and what they may do."""

    user_id: int
    email: str
    role: str
    scopes: frozenset[str]
    token_id: int
    expires_at: datetime

    @property
    def is_operator(self) -> bool:
        return self.role == "operator" and scope_names.OPERATOR in self.scopes


class TokenGrant(msgspec.Struct):
    access_token: str
    refresh_token: str | None
    id_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"
    state: str | None = None


class TokenInfo(msgspec.Struct):
    id: int
    user_id: int
    email: str
    kind: str
    scopes: str
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class OAuthError(ApiError):
    """Errors of the token endpoint, in OAuth's shape (RFC 6749 section 5.2) and Tesla's."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(status, error, description)


class Tokens:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        secret_key: str,
        issuer: str = "pitstop",
        access_ttl: int = 8 * 3600,
        refresh_ttl: int = 90 * 24 * 3600,
        cache_ttl: float = 5.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.secret_key = secret_key
        self.issuer = issuer
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.cache_ttl = cache_ttl
        #: token hash -> (principal, checked until, usable until: the earlier of that and expiry)
        self._cache: dict[str, tuple[Principal, float, float]] = {}
        #: raw token -> its token_hash, for the tokens seen lately: `cached` is on the path of
        #: every request the fast paths answer (the gate's operator check, vehicle_data), and a
        #: sha256 of a JWT costs more than the rest of such a check. Only a memo of a pure
        #: function: whether the token is valid is still `_cache`'s business, so revoking needs
        #: nothing here. Bounded: cleared whole when full, like `_cache`.
        self._hashes: dict[str, str] = {}

    # --- issuing ---------------------------------------------------------------------------

    async def issue(
        self,
        user: User,
        requested: frozenset[str] | None = None,
        *,
        client_id: str = "pitstop",
        label: str = "",
        ttl: int | None = None,
        refresh: bool = True,
    ) -> TokenGrant:
        allowed = scope_names.ROLE_SCOPES[user.role]
        granted = allowed if requested is None else requested & allowed
        if requested is not None and requested - allowed:
            raise OAuthError(
                "invalid_scope",
                f"The {user.role} account cannot have: {', '.join(sorted(requested - allowed))}.",
            )
        now = self.clock.now()
        ttl = ttl or self.access_ttl
        claims = {
            "iss": self.issuer,
            "sub": str(user.id),
            "aud": client_id,
            "scp": sorted(granted),
            "ou_code": "EU",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
            "jti": secrets.token_urlsafe(12),
        }
        access = jwt.encode(claims, self.secret_key, algorithm="HS256")
        rows = [
            dict(
                kind="access",
                token_hash=token_hash(access),
                expires_at=now + timedelta(seconds=ttl),
            )
        ]
        refresh_token = None
        if refresh and scope_names.OFFLINE_ACCESS in granted:
            refresh_token = "psr_" + secrets.token_urlsafe(32)
            rows.append(
                dict(
                    kind="refresh",
                    token_hash=token_hash(refresh_token),
                    expires_at=now + timedelta(seconds=self.refresh_ttl),
                )
            )
        async with self.engine.begin() as conn:
            for row in rows:
                await conn.execute(
                    tokens.insert().values(
                        user_id=user.id,
                        scopes=scope_names.render(granted),
                        client_id=client_id,
                        label=label,
                        created_at=now,
                        **row,
                    )
                )
        id_token = jwt.encode(
            {
                "iss": self.issuer,
                "sub": str(user.id),
                "aud": client_id,
                "email": user.email,
                "name": user.full_name,
                "iat": int(now.timestamp()),
                "exp": int(now.timestamp()) + ttl,
            },
            self.secret_key,
            algorithm="HS256",
        )
        return TokenGrant(
            access_token=access,
            refresh_token=refresh_token,
            id_token=id_token,
            expires_in=ttl,
            scope=scope_names.render(granted),
        )

    # --- checking --------------------------------------------------------------------------

    def cached(self, raw: str, now: float | None = None) -> Principal | None:
        """The principal behind an access token that `authenticate` checked less than
        `cache_ttl` seconds ago and that has not expired since; None for anything else (unknown,
        revoked, expired, or not checked lately: ask `authenticate`, which says why). No I/O.
        `now`: the clock's timestamp, if the caller has just read it."""
        key = self._hashes.get(raw)
        if key is None:
            if len(self._hashes) >= HASH_MEMO_SIZE:
                self._hashes.clear()
            key = self._hashes[raw] = token_hash(raw)
        hit = self._cache.get(key)
        if hit is None or hit[2] <= (self.clock.timestamp() if now is None else now):
            return None
        return hit[0]

    async def authenticate(self, raw: str) -> Principal:
        """The principal behind an access token, or a 401 that says why."""
        key = token_hash(raw)
        now = self.clock.now()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now.timestamp():
            principal = cached[0]
        else:
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(tokens, users.c.email, users.c.role)
                        .join(users, users.c.id == tokens.c.user_id)
                        .where(tokens.c.token_hash == key, tokens.c.kind == "access")
                    )
                ).first()
            if row is None or row.revoked_at is not None:
                self._cache.pop(key, None)
                raise ApiError(
                    401,
                    "invalid_token",
                    "The access token is not valid: it is unknown or was revoked.",
                )
            principal = Principal(
                user_id=row.user_id,
                email=row.email,
                role=row.role,
                scopes=scope_names.parse(row.scopes),
                token_id=row.id,
                expires_at=row.expires_at,
            )
            if len(self._cache) > 100_000:
                self._cache.clear()
            fresh_until = now.timestamp() + self.cache_ttl
            self._cache[key] = (
                principal,
                fresh_until,
                min(fresh_until, principal.expires_at.timestamp()),
            )
        if principal.expires_at <= now:
            raise ApiError(
                401, "token_expired", "The access token has expired: refresh it or sign in again."
            )
        return principal

    # --- refresh and revoke ----------------------------------------------------------------

    async def refresh(self, raw: str, *, client_id: str | None = None) -> TokenGrant:
        """Trade a refresh token for a new pair; the old refresh token stops working."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(tokens).where(
                        tokens.c.token_hash == token_hash(raw), tokens.c.kind == "refresh"
                    )
                )
            ).first()
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise OAuthError(
                    "invalid_grant", "The refresh token is invalid, expired or revoked.", 401
                )
            if client_id and row.client_id and client_id != row.client_id:
                raise OAuthError(
                    "invalid_grant", "The refresh token was issued to another client.", 401
                )
            await conn.execute(tokens.update().where(tokens.c.id == row.id).values(revoked_at=now))
        user = await self._user(row.user_id)
        return await self.issue(
            user, scope_names.parse(row.scopes), client_id=row.client_id, label=row.label
        )

    async def revoke(self, *, raw: str | None = None, token_id: int | None = None) -> bool:
        """Revoke one token by its value or id; True if something was revoked."""
        condition = tokens.c.token_hash == token_hash(raw) if raw else tokens.c.id == token_id
        async with self.engine.begin() as conn:
            result = await conn.execute(
                tokens.update()
                .where(condition, tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.now())
            )
        if raw:
            self._cache.pop(token_hash(raw), None)
        else:
            self._cache = {k: v for k, v in self._cache.items() if v[0].token_id != token_id}
        return bool(result.rowcount)

    async def list(self, user_id: int | None = None) -> list[TokenInfo]:
        query = (
            sa.select(tokens, users.c.email)
            .join(users, users.c.id == tokens.c.user_id)
            .where(tokens.c.kind == "access")
            .order_by(tokens.c.id)
        )
        if user_id is not None:
            query = query.where(tokens.c.user_id == user_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            TokenInfo(
                id=r.id,
                user_id=r.user_id,
                email=r.email,
                kind=r.kind,
                scopes=r.scopes,
                label=r.label,
                created_at=r.created_at,
                expires_at=r.expires_at,
                revoked_at=r.revoked_at,
            )
            for r in rows
        ]

    async def _user(self, user_id: int) -> User:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).one()
        return user_from_row(row)

    # --- authorization codes (PKCE) --------------------------------------------------------

    async def create_code(
        self,
        user: User,
        *,
        client_id: str,
        redirect_uri: str,
        code_challenge: str,
        scopes: frozenset[str],
    ) -> str:
        code = secrets.token_urlsafe(32)
        async with self.engine.begin() as conn:
            await conn.execute(
                auth_codes.insert().values(
                    code_hash=token_hash(code),
                    user_id=user.id,
                    client_id=client_id,
                    redirect_uri=redirect_uri,
                    code_challenge=code_challenge,
                    scopes=scope_names.render(scopes),
                    expires_at=self.clock.now() + timedelta(minutes=5),
                )
            )
        return code

    async def exchange_code(
        self, code: str, *, client_id: str, redirect_uri: str, code_verifier: str
    ) -> TokenGrant:
        now = self.clock.now()
        key = token_hash(code)
        async with self.engine.begin() as conn:
            # Claim the code first, in its own transaction: it is used once, whatever happens next,
            # and of two concurrent exchanges only one gets it.
            claimed = await conn.execute(
                auth_codes.update()
                .where(
                    auth_codes.c.code_hash == key,
                    auth_codes.c.used_at.is_(None),
                    auth_codes.c.expires_at > now,
                )
                .values(used_at=now)
            )
            row = (
                await conn.execute(sa.select(auth_codes).where(auth_codes.c.code_hash == key))
            ).first()
        if not claimed.rowcount or row is None:
            raise OAuthError("invalid_grant", "The authorization code is invalid, used or expired.")
        if row.client_id != client_id or row.redirect_uri != redirect_uri:
            raise OAuthError(
                "invalid_grant", "client_id or redirect_uri differ from the authorization."
            )
        digest = hashlib.sha256(code_verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if not secrets.compare_digest(challenge, row.code_challenge):
            raise OAuthError(
                "invalid_grant", "The code_verifier does not match the code_challenge."
            )
        user = await self._user(row.user_id)
        return await self.issue(user, scope_names.parse(row.scopes), client_id=client_id)
