"""Which cars exist, who owns them, and their link credentials."""

from __future__ import annotations

import re
import secrets

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.clock import Clock
from pitstop.db.tables import vehicles
from pitstop.link.protocol import command_key, link_auth_hash

_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")


class Vehicle(msgspec.Struct, frozen=True):
    id: int
    vin: str
    owner_id: int
    display_name: str
    car_type: str
    command_key: str

    @property
    def id_s(self) -> str:
        return str(self.id)


class Registry:
    """The vehicles table, read through an in-memory copy (cars are few and rarely change)."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._by_id: dict[int, Vehicle] = {}
        self._by_vin: dict[str, Vehicle] = {}

    def _remember(self, vehicle: Vehicle) -> Vehicle:
        self._by_id[vehicle.id] = vehicle
        self._by_vin[vehicle.vin] = vehicle
        return vehicle

    @staticmethod
    def _from_row(row: sa.Row[tuple[object, ...]]) -> Vehicle:
        return Vehicle(
            id=row.id,
            vin=row.vin,
            owner_id=row.owner_id,
            display_name=row.display_name,
            car_type=row.car_type,
            command_key=row.command_key,
        )

    async def load(self) -> None:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(vehicles))).all()
        for row in rows:
            self._remember(self._from_row(row))

    async def register(
        self, *, owner_id: int, vin: str, display_name: str = "", car_type: str = "model3"
    ) -> tuple[Vehicle, str]:
        """Add a car; returns it with its link secret, which is shown this once."""
        vin = vin.strip().upper()
        if not _VIN.match(vin):
            raise ValueError(f"{vin!r} is not a VIN: 17 letters and digits, without I, O or Q")
        secret = secrets.token_urlsafe(32)
        vehicle_id = secrets.randbelow(9 * 10**14) + 10**14  # 15 digits, like Tesla's ids
        async with self.engine.begin() as conn:
            if await conn.scalar(sa.select(vehicles.c.id).where(vehicles.c.vin == vin)) is not None:
                raise ValueError(f"a vehicle with VIN {vin} is registered already")
            await conn.execute(
                vehicles.insert().values(
                    id=vehicle_id,
                    vin=vin,
                    owner_id=owner_id,
                    display_name=display_name,
                    car_type=car_type,
                    link_auth_hash=link_auth_hash(secret),
                    command_key=command_key(secret),
                    created_at=self.clock.now(),
                )
            )
        vehicle = Vehicle(
            id=vehicle_id,
            vin=vin,
            owner_id=owner_id,
            display_name=display_name,
            car_type=car_type,
            command_key=command_key(secret),
        )
        return self._remember(vehicle), secret

    async def get(self, vehicle_id: int) -> Vehicle | None:
        if vehicle_id in self._by_id:
            return self._by_id[vehicle_id]
        return await self._fetch(vehicles.c.id == vehicle_id)

    async def by_vin(self, vin: str) -> Vehicle | None:
        if vin in self._by_vin:
            return self._by_vin[vin]
        return await self._fetch(vehicles.c.vin == vin)

    async def _fetch(self, condition: sa.ColumnElement[bool]) -> Vehicle | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(vehicles).where(condition))).first()
        return self._remember(self._from_row(row)) if row else None

    async def find(self, key: str) -> Vehicle | None:
        """A vehicle by id, id_s or VIN."""
        if key.isdigit() and len(key) < 17:
            return await self.get(int(key))
        return await self.by_vin(key.upper())

    def known(self, key: str) -> Vehicle | None:
        """Like `find`, from the in-memory copy only: None may also mean "not read here yet"."""
        if key.isdigit() and len(key) < 17:
            return self._by_id.get(int(key))
        return self._by_vin.get(key.upper())

    async def owned_by(self, owner_id: int) -> list[Vehicle]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(vehicles)
                    .where(vehicles.c.owner_id == owner_id)
                    .order_by(vehicles.c.created_at, vehicles.c.vin)
                )
            ).all()
        return [self._remember(self._from_row(r)) for r in rows]

    async def authenticate_car(self, vin: str, secret: str) -> Vehicle | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(vehicles).where(vehicles.c.vin == vin.upper()))
            ).first()
        if row is None or not secrets.compare_digest(row.link_auth_hash, link_auth_hash(secret)):
            return None
        return self._remember(self._from_row(row))

    async def next_counter(self, vehicle_id: int) -> int:
        """The next command number for this car, unique across every server process."""
        async with self.engine.begin() as conn:
            await conn.execute(
                vehicles.update()
                .where(vehicles.c.id == vehicle_id)
                .values(command_counter=vehicles.c.command_counter + 1)
            )
            counter = await conn.scalar(
                sa.select(vehicles.c.command_counter).where(vehicles.c.id == vehicle_id)
            )
        assert counter is not None
        return int(counter)
