"""Driving loops for the simulator, a driver who follows them, and the geodesy involved."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_000.0

LatLon = tuple[float, float]


@dataclass
class Route:
    """A closed loop of (latitude, longitude) waypoints in degrees (WGS84).

    `speed_limits_kmh[i]` (km/h) applies from waypoint i to waypoint i + 1; the last one
    leads back to the first. `stop_chance` is the probability of stopping at each waypoint
    (a red light) for a while.
    """

    name: str
    waypoints: list[LatLon]
    speed_limits_kmh: list[float]
    stop_chance: float = 0.0

    def __post_init__(self) -> None:
        if len(self.waypoints) < 2 or len(self.speed_limits_kmh) != len(self.waypoints):
            raise ValueError(f"route {self.name}: need ≥ 2 waypoints and one limit per segment")
        if min(self.segment_lengths_m()) <= 0:
            raise ValueError(f"route {self.name}: consecutive waypoints must differ")

    def segment_lengths_m(self) -> list[float]:
        n = len(self.waypoints)
        return [distance_m(self.waypoints[i], self.waypoints[(i + 1) % n]) for i in range(n)]

    @property
    def length_km(self) -> float:
        return sum(self.segment_lengths_m()) / 1000


def distance_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bearing_deg(a: LatLon, b: LatLon) -> float:
    """Initial compass bearing from `a` to `b`, degrees clockwise from north in [0, 360)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360


def interpolate(a: LatLon, b: LatLon, fraction: float) -> LatLon:
    """The point `fraction` of the way from `a` to `b`; linear is fine for segments of a few km."""
    return (a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction)


class RouteFollower:
    """A driver going round and round a Route: keeps to the limits, brakes in time for
    slower segments and red lights, and waits at those lights."""

    def __init__(self, route: Route, *, start_near: LatLon, rng: random.Random) -> None:
        self.route, self._rng = route, rng
        self._lengths = route.segment_lengths_m()
        self.speed_ms = 0.0
        self._dwell_s = 0.0  # seconds left waiting at a red light
        wps = route.waypoints
        self._enter(min(range(len(wps)), key=lambda i: distance_m(start_near, wps[i])))

    def _enter(self, seg: int) -> None:
        self._seg, self._pos_m = seg, 0.0
        self._pace = self._rng.uniform(0.92, 1.05)  # this driver's speed relative to the limit
        self._stop_ahead = self._rng.random() < self.route.stop_chance  # red light at the end

    def step(self, dt: float, *, accel_ms2: float, decel_ms2: float) -> tuple[float, float, float]:
        """Drive `dt` seconds with at most `accel_ms2`/`decel_ms2` (m/s²).

        Returns (distance m, mean speed m/s, acceleration m/s²).
        """
        if self._dwell_s > 0:
            self._dwell_s -= dt
            return 0.0, 0.0, 0.0
        limits = self.route.speed_limits_kmh
        remaining = self._lengths[self._seg] - self._pos_m
        cruise = limits[self._seg] / 3.6 * self._pace
        end_speed = 0.0 if self._stop_ahead else limits[(self._seg + 1) % len(limits)] / 3.6
        # Brake in time, at 80 % of the car's deceleration, for the next segment or a red
        # light: the fastest v1 from which, after this step's travel (v0 + v1) / 2 · dt, the
        # rest of the way still suffices to slow to end_speed. Creep up to a stop line
        # rather than approach it forever.
        v0, b = self.speed_ms, 0.8 * decel_ms2
        c = end_speed**2 + 2 * b * remaining - b * dt * v0
        braking = (math.sqrt((b * dt) ** 2 + 4 * c) - b * dt) / 2 if c > 0 else 0.0
        target = max(min(cruise, braking), 1.5 if self._stop_ahead else 0.0)
        v1 = max(0.0, v0 + max(-decel_ms2, min(accel_ms2, (target - v0) / dt)) * dt)
        self.speed_ms = v1
        return self._advance((v0 + v1) / 2 * dt), (v0 + v1) / 2, (v1 - v0) / dt

    def _advance(self, dist_m: float) -> float:
        """Move `dist_m` along the loop, stopping at a red light; returns the distance moved."""
        moved = dist_m
        while dist_m >= self._lengths[self._seg] - self._pos_m:
            dist_m -= self._lengths[self._seg] - self._pos_m
            red_light = self._stop_ahead
            self._enter((self._seg + 1) % len(self._lengths))
            if red_light:  # stop at the line; the rest of this step's travel never happens
                moved, dist_m, self.speed_ms = moved - dist_m, 0.0, 0.0
                self._dwell_s = self._rng.uniform(15.0, 45.0)
        self._pos_m += dist_m
        return moved

    def _ends(self) -> tuple[LatLon, LatLon]:
        wps = self.route.waypoints
        return wps[self._seg], wps[(self._seg + 1) % len(wps)]

    @property
    def position(self) -> LatLon:
        return interpolate(*self._ends(), self._pos_m / self._lengths[self._seg])

    @property
    def heading_deg(self) -> float:
        return bearing_deg(*self._ends())


def _loop(name: str, stops: list[tuple[float, float, float]], stop_chance: float = 0.0) -> Route:
    """A Route from (latitude, longitude, km/h limit to the next waypoint) triples."""
    return Route(
        name=name,
        waypoints=[(lat, lon) for lat, lon, _ in stops],
        speed_limits_kmh=[limit for _, _, limit in stops],
        stop_chance=stop_chance,
    )


# Around Berlin-Mitte: Unter den Linden, Alexanderplatz, Leipziger Straße, Potsdamer Platz.
BERLIN_MITTE = _loop(
    "berlin-mitte",
    [
        (52.516270, 13.377700, 50),  # Brandenburger Tor
        (52.517150, 13.388860, 50),  # Unter den Linden / Friedrichstraße
        (52.517800, 13.398350, 50),  # Schlossbrücke
        (52.520500, 13.404400, 50),  # Karl-Liebknecht-Straße / Spandauer Straße
        (52.521700, 13.411000, 50),  # Alexanderplatz
        (52.516400, 13.408400, 50),  # Molkenmarkt
        (52.511500, 13.404300, 50),  # Spittelmarkt
        (52.509750, 13.389300, 50),  # Leipziger Straße / Friedrichstraße
        (52.509500, 13.376400, 50),  # Potsdamer Platz
        (52.513300, 13.377100, 30),  # Ebertstraße
    ],
    stop_chance=0.4,  # traffic lights
)

# The Berliner Ring (A10), clockwise from the Havelland interchange: ~170 km of autobahn.
BERLINER_RING = _loop(
    "berliner-ring",
    [
        (52.559000, 12.996000, 130),  # Dreieck Havelland
        (52.630000, 13.050000, 120),
        (52.695000, 13.180000, 120),  # Kreuz Oranienburg
        (52.685000, 13.330000, 120),  # Mühlenbeck
        (52.660000, 13.450000, 130),  # Dreieck Pankow
        (52.665000, 13.630000, 130),
        (52.570000, 13.710000, 120),
        (52.490000, 13.750000, 130),
        (52.335000, 13.710000, 120),  # Dreieck Spreeau
        (52.305000, 13.610000, 100),  # Königs Wusterhausen
        (52.351000, 13.533000, 120),  # Schönefelder Kreuz
        (52.329000, 13.373000, 130),  # Ludwigsfelde
        (52.318000, 13.112000, 100),  # Dreieck Nuthetal
        (52.338000, 13.024000, 120),  # Dreieck Potsdam
        (52.390000, 12.940000, 130),  # Dreieck Werder
        (52.480000, 12.960000, 130),
    ],
)

ROUTES: dict[str, Route] = {route.name: route for route in (BERLIN_MITTE, BERLINER_RING)}
