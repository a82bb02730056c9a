"""Preferences: defaults, changes, validation that changes nothing, and fan-out that follows them."""

from __future__ import annotations

from pathlib import Path

from pitstop.notify.outcomes import Recipient
from pitstop.notify.render import Renderer
from pitstop.notify.topics import SUBSCRIPTION_TOPIC, TOPICS, USER_TOPICS
from tests.notify.support import SmtpSink, notify, settled
from tests.world import Account, World


async def test_defaults_are_email_and_feed_for_every_topic(world: World, ada: Account) -> None:
    async with world.client(ada.token) as http:
        r = await http.get("/api/1/notifications/preferences")
    assert r.status_code == 200
    prefs = r.json()["response"]
    assert prefs["timezone"] == "UTC"
    assert set(prefs["channels"]) == set(USER_TOPICS) == set(prefs["topics"])
    # The status page subscription's own mail goes to an address: nothing for an owner to set.
    assert SUBSCRIPTION_TOPIC not in prefs["topics"] and SUBSCRIPTION_TOPIC in TOPICS
    assert prefs["channels"]["maintenance.charging"] == ["email", "feed", "push"]
    assert prefs["channels"]["alert.battery_low"] == ["email", "feed", "push"]
    assert "maintenance.vehicle_link" not in prefs["channels"]
    assert prefs["available_channels"] == ["email", "webhook", "feed", "push"]
    assert prefs["topics"]["alert.left_unlocked"] == "a car was left unlocked"


async def test_a_change_applies_to_the_topics_named_and_nothing_else(
    world: World, ada: Account, smtp: SmtpSink
) -> None:
    async with world.client(ada.token) as http:
        r = await http.put(
            "/api/1/notifications/preferences",
            json={
                "timezone": "Europe/Paris",
                "channels": {"maintenance.vehicle_data": ["feed"], "alert.battery_low": []},
            },
        )
        assert r.status_code == 200, r.text
        prefs = r.json()["response"]
    assert prefs["timezone"] == "Europe/Paris"
    assert prefs["channels"]["maintenance.vehicle_data"] == ["feed"]
    assert prefs["channels"]["alert.battery_low"] == []
    assert prefs["channels"]["maintenance.charging"] == ["email", "feed", "push"]

    bob = await world.account("bob@example.com")
    made = await notify(world, "two-users", [ada.user.id, bob.user.id])
    assert made == 3  # ada: feed; bob: email and feed
    found = await settled(world, "two-users", "delivered")
    assert sorted((d.channel, d.user_id) for d in found) == [
        ("email", bob.user.id),
        ("feed", ada.user.id),
        ("feed", bob.user.id),
    ]
    assert [m["To"] for m in smtp.messages] == ["bob <bob@example.com>"]
    assert await notify(world, "nobody", [ada.user.id], topic="alert.battery_low") == 0


async def test_an_invalid_change_says_what_is_wrong_and_changes_nothing(
    world: World, ada: Account
) -> None:
    async with world.client(ada.token) as http:
        r = await http.put(
            "/api/1/notifications/preferences",
            json={
                "timezone": "Mars/Olympus_Mons",
                "channels": {
                    "maintenance.charging": ["feed"],  # fine, but must not be applied alone
                    "maintenance.everything": ["email"],
                    "alert.battery_low": ["pigeon", "email", "email"],
                },
            },
        )
        assert r.status_code == 422
        body = r.json()
        assert body["error"] == "invalid_field" and body["response"] is None
        assert set(body["messages"]) == {
            "timezone",
            "channels.maintenance.everything",
            "channels.alert.battery_low",
        }
        assert "unknown channel 'pigeon'" in body["messages"]["channels.alert.battery_low"][0]
        r = await http.put("/api/1/notifications/preferences", json={"channels": ["email"]})
        assert r.status_code == 422 and r.json()["error"] == "invalid_field"
        r = await http.put("/api/1/notifications/preferences", content=b"{not json")
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
        r = await http.put("/api/1/notifications/preferences", json={"colour": "red"})
        assert r.status_code == 422
        prefs = (await http.get("/api/1/notifications/preferences")).json()["response"]
    assert prefs["timezone"] == "UTC"
    assert prefs["channels"]["maintenance.charging"] == ["email", "feed", "push"]


async def test_a_template_kind_is_rendered_in_each_recipients_time_zone(tmp_path: Path) -> None:
    (tmp_path / "window_announced.subject.txt").write_text("Maintenance: {{ title }}")
    (tmp_path / "window_announced.txt").write_text(
        "Hello {{ recipient.name }}, it starts {{ starts_at | localtime('%d %b %H:%M %Z') }}."
    )
    (tmp_path / "window_announced.html").write_text("<p>{{ title }}</p>")
    renderer = Renderer([tmp_path])
    assert renderer.has_kind("window_announced") and not renderer.has_kind("nope")
    data = {"title": "DB <upgrade>", "starts_at": "2026-06-01T20:00:00Z"}
    paris = renderer.render(
        topic="maintenance.web",
        recipient=Recipient(user_id=1, address="a@x.test", name="Ada", timezone="Europe/Paris"),
        subject="",
        text="",
        html=None,
        template="window_announced",
        data=data,
    )
    assert paris.subject == "Maintenance: DB <upgrade>"
    assert paris.text == "Hello Ada, it starts 01 Jun 22:00 CEST.\n"
    assert paris.html == "<p>DB &lt;upgrade&gt;</p>"
    tokyo = renderer.render(
        topic="maintenance.web",
        recipient=Recipient(user_id=2, address="b@x.test", name="Bo", timezone="Asia/Tokyo"),
        subject="",
        text="",
        html=None,
        template="window_announced",
        data=data,
    )
    assert tokyo.text == "Hello Bo, it starts 02 Jun 05:00 JST.\n"
