"""The status board: each component's state now, and the service's overall state.

Read from memory (the maintenance state every process keeps, and the incidents this process
saw) plus the incidents other processes wrote, when the database answers: the status page
must work best exactly when the rest of Pitstop does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from pitstop.availability.windows import COMPONENTS, MaintenanceWindow
from pitstop.status.incidents import OUTAGE, Incident

OPERATIONAL, DEGRADED, MAINTENANCE = "operational", "degraded", "maintenance"
#: Worst first: the overall state is the worst of the components'.
SEVERITY = (OUTAGE, MAINTENANCE, DEGRADED, OPERATIONAL)

#: Components as the status page names them, in the order it lists them.
NAMES = {
    "vehicle_data": "Vehicle data",
    "vehicle_commands": "Vehicle commands",
    "charging": "Charging",
    "service": "Service appointments",
    "accounts": "Accounts and sign-in",
    "notifications": "Notifications",
    "web": "Web app",
    "vehicle_link": "Car connection",
}
assert set(NAMES) == set(COMPONENTS)

STATE_WORDS = {
    OPERATIONAL: "Operational",
    DEGRADED: "Degraded",
    MAINTENANCE: "Under maintenance",
    OUTAGE: "Outage",
}

OVERALL_WORDS = {
    OPERATIONAL: "All systems operational",
    DEGRADED: "Some systems are degraded",
    MAINTENANCE: "Maintenance in progress",
    OUTAGE: "Pitstop is having an outage",
}


class ComponentState(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    state: str
    state_text: str
    note: str = ""
    window_id: int | None = None
    incident_id: int | None = None


class Board(msgspec.Struct, frozen=True, kw_only=True):
    state: str
    text: str
    components: tuple[ComponentState, ...]


def component_state(
    component: str, windows: Iterable[MaintenanceWindow], incidents: Iterable[Incident]
) -> ComponentState:
    """The state of one component: an outage beats maintenance beats read-only."""
    name = NAMES[component]
    for incident in incidents:
        if incident.open and incident.covers(component):
            state = incident.impact
            return ComponentState(
                id=component,
                name=name,
                state=state,
                state_text=STATE_WORDS[state],
                note=incident.title,
                incident_id=incident.id,
            )
    running = [x for x in windows if x.status == "in_progress" and x.covers(component)]
    running.sort(key=lambda x: x.mode != "full")
    if running:
        window = running[0]
        note = "read-only: reading works, changes wait" if window.mode == "read_only" else ""
        return ComponentState(
            id=component,
            name=name,
            state=MAINTENANCE,
            state_text=STATE_WORDS[MAINTENANCE] + (" (read-only)" if note else ""),
            note=note,
            window_id=window.id,
        )
    return ComponentState(
        id=component, name=name, state=OPERATIONAL, state_text=STATE_WORDS[OPERATIONAL]
    )


def board(windows: Iterable[MaintenanceWindow], incidents: Iterable[Incident]) -> Board:
    windows, incidents = list(windows), list(incidents)
    states = tuple(component_state(c, windows, incidents) for c in NAMES)
    worst = min((s.state for s in states), key=SEVERITY.index)
    return Board(state=worst, text=OVERALL_WORDS[worst], components=states)


def merge(seen_here: Iterable[Incident], written: Iterable[Incident]) -> list[Incident]:
    """The incidents to show: those written down, with what this process sees failing now
    (not written yet while the database is away) taking the place of the same cause's."""
    here = {i.cause: i for i in seen_here}
    shown = [i for i in written if not (i.open and i.cause in here)]
    return shown + list(here.values())


def is_recent(incident: Incident, since: datetime) -> bool:
    return incident.resolved_at is None or incident.resolved_at >= since
