"""Owners and operators."""

from __future__ import annotations

import re

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.accounts.passwords import hash_password, verify_password
from pitstop.clock import Clock
from pitstop.db.tables import users

ROLES = ("owner", "operator")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class User(msgspec.Struct, frozen=True):
    id: int
    email: str
    full_name: str
    role: str


class UserExists(ValueError):
    pass


def user_from_row(row: sa.Row[tuple[int, str, str, str]]) -> User:
    return User(id=row.id, email=row.email, full_name=row.full_name, role=row.role)


class Users:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def create(
        self, email: str, password: str, *, role: str = "owner", full_name: str = ""
    ) -> User:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise ValueError(f"{email!r} is not an email address")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        async with self.engine.begin() as conn:
            existing = await conn.scalar(sa.select(users.c.id).where(users.c.email == email))
            if existing is not None:
                raise UserExists(f"a user with email {email} exists already")
            user_id = await conn.scalar(
                users.insert()
                .values(
                    email=email,
                    full_name=full_name,
                    password_hash=hash_password(password),
                    role=role,
                    created_at=self.clock.now(),
                )
                .returning(users.c.id)
            )
        assert user_id is not None
        return User(id=user_id, email=email, full_name=full_name, role=role)

    async def get(self, user_id: int) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        return user_from_row(row) if row else None

    async def by_email(self, email: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(users).where(users.c.email == email.strip().lower()))
            ).first()
        return user_from_row(row) if row else None

    async def authenticate(self, email: str, password: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(users).where(users.c.email == email.strip().lower()))
            ).first()
        if row is None or not verify_password(row.password_hash, password):
            return None
        return user_from_row(row)
