"""What users can be told about (topics) and how (channels), with the defaults.

A topic is `maintenance.<component>` (a maintenance window that touches that component) or
`alert.<kind>` (something one of the user's cars needs attention for). Other packages add a
topic by adding it here; the preferences API, its validation and its defaults follow.
"""

from __future__ import annotations

from pitstop.availability.windows import COMPONENTS, WHOLE_SERVICE

EMAIL, WEBHOOK, FEED, PUSH = "email", "webhook", "feed", "push"
#: Channels a user may choose.
CHANNELS: tuple[str, ...] = (EMAIL, WEBHOOK, FEED, PUSH)
#: Push is on by default: it reaches only the browsers where the owner turned it on, so
#: turning it on in the app is the choice, and every topic then arrives there too.
DEFAULT_CHANNELS: tuple[str, ...] = (EMAIL, FEED, PUSH)

ALERTS = {
    "charging_complete": "charging has finished",
    "charging_stopped": "charging stopped unexpectedly",
    "plug_in_reminder": "plug in to be ready for a scheduled charge",
    "left_unlocked": "a car was left unlocked",
    "battery_low": "the battery is low",
    "service_due": "service is due",
}

#: topic -> a description for people: what users choose channels for (their settings).
USER_TOPICS: dict[str, str] = {
    **{
        f"maintenance.{component}": f"maintenance affecting {COMPONENTS[component]}"
        for component in sorted(WHOLE_SERVICE)
    },
    **{f"alert.{kind}": text for kind, text in ALERTS.items()},
    "service.reminder": "reminders of your service appointments",
}


#: Mail about a status page subscription itself (the confirmation), to an address, not a user:
#: no user has a choice to make about it, so it is not in their settings.
SUBSCRIPTION_TOPIC = "status.subscription"

#: Every topic a notification may have, with its description (mails, unsubscribe pages).
TOPICS: dict[str, str] = {**USER_TOPICS, SUBSCRIPTION_TOPIC: "your status page subscription"}


def maintenance_topic(component: str) -> str:
    return f"maintenance.{component}"


def alert_topic(kind: str) -> str:
    return f"alert.{kind}"


#: Reminders of a booked service appointment (the day before and an hour before).
SERVICE_REMINDER = "service.reminder"


def check_topic(topic: str) -> str:
    if topic not in TOPICS:
        raise ValueError(f"unknown notification topic {topic!r}")
    return topic
