"""Service due, as the app shows it on a car's card: the alert rules' reasons in plain words.

The vehicle alerts (alerts/rules.py) decide when a car is due for service: distance or time
since its last service, a tyre below the pressure limit or its warning on. The app asks
`GET /api/1/service/due` rather than deciding for itself, so the card and the alert use the
same rules and the same operator settings (`PITSTOP_ALERT_SERVICE_*`, `PITSTOP_ALERT_TYRE_BAR`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from pitstop.alerts.rules import Rules, observe, service_due


class ServiceDue(msgspec.Struct, frozen=True, kw_only=True):
    vin: str
    vehicle_name: str
    due: bool
    #: One sentence per reason ("The front left tyre is at 2.1 bar, below 2.4 bar.").
    reasons: list[str]
    #: The reasons as a problem description for a booking ("" when nothing is due).
    problem: str
    #: The alert's facts (distance_due, time_due, service_km, days_since_service, tyres_low...).
    facts: dict[str, Any] | None = None


def reasons(facts: dict[str, Any]) -> list[str]:
    """The alert's facts as sentences, in the order the alert mail gives them."""
    said: list[str] = []
    if facts.get("distance_due"):
        said.append(
            f"{facts['service_km']} km driven since its last service "
            f"(service every {facts['service_km_limit']} km)."
        )
    if facts.get("time_due"):
        said.append(f"{facts['days_since_service']} days since its last service.")
    limit = float(facts.get("tyre_bar") or 0.0)
    for tyre in facts.get("tyres_low") or ():
        bar = float(tyre["bar"])
        if bar < limit:
            said.append(f"The {tyre['wheel']} tyre is at {bar:.1f} bar, below {limit:.1f} bar.")
        else:
            said.append(f"The {tyre['wheel']} tyre's pressure warning is on ({bar:.1f} bar).")
    return said


def due_for(
    rules: Rules, t: float, vin: str, name: str, sections: dict[str, dict[str, Any]]
) -> ServiceDue:
    """Whether the car whose last-known state is `sections` is due for service at `t`."""
    facts = service_due(rules, observe(t, sections)) if sections else None
    if facts is None:
        return ServiceDue(vin=vin, vehicle_name=name, due=False, reasons=[], problem="")
    said = reasons(facts)
    problem = "Service due (reported by the car): " + " ".join(said)
    return ServiceDue(
        vin=vin, vehicle_name=name, due=True, reasons=said, problem=problem, facts=facts
    )
