"""Email through a real SMTP server (aiosmtpd): what lands in the inbox, and SMTP failures."""

from __future__ import annotations

import httpx

from pitstop.clock import ManualClock
from pitstop.notify.email import message_id
from tests.notify.support import SmtpSink, later, notify, settled
from tests.world import Account, World


async def test_a_mail_has_html_and_text_a_stable_message_id_and_one_click_unsubscribe(
    world: World, ada: Account, smtp: SmtpSink
) -> None:
    made = await notify(
        world,
        "window:7:announced",
        [ada.user.id],
        html="<p>Reading your cars' data will pause for <b>30 minutes</b>.</p>",
        data={"window_id": 7},
    )
    assert made == 2  # email and feed: the defaults
    await world.eventually(lambda: len(smtp.messages) == 1)
    mail = smtp.messages[0]
    assert mail["Subject"] == "Maintenance on Saturday"
    assert mail["To"] == "ada <ada@example.com>"
    assert mail["From"] == "Pitstop <noreply@pitstop.test>"
    assert mail["Message-ID"] == message_id("window:7:announced", "ada@example.com", "pitstop.test")
    assert mail["X-Pitstop-Key"] == "window:7:announced"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Reading your cars' data will pause for 30 minutes." in text.get_content()
    assert "<b>30 minutes</b>" in html.get_content()
    unsubscribe = mail["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("https://pitstop.test/notifications/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in text.get_content() and unsubscribe in html.get_content()
    found = await settled(world, "window:7:announced", "delivered")
    assert sorted(d.channel for d in found) == ["email", "feed"]

    # The mail client's one-click unsubscribe: a POST to the link, no login.
    path = unsubscribe.removeprefix("https://pitstop.test")
    async with world.client() as http:
        page = await http.get(path)
        assert page.status_code == 200 and "Unsubscribe" in page.text
        assert "vehicle_data" not in page.text  # people read the topic's description
        assert (await world.rt.notify.preferences.get(ada.user.id)).channels[
            "maintenance.vehicle_data"
        ] == ["email", "feed", "push"]  # looking at the page changed nothing
        done = await http.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "no longer get email" in done.text
        forged = await http.post(path[:-3] + "abc")
        assert forged.status_code == 404
    prefs = await world.rt.notify.preferences.get(ada.user.id)
    assert prefs.channels["maintenance.vehicle_data"] == ["feed", "push"]
    assert prefs.channels["maintenance.charging"] == ["email", "feed", "push"]

    # The next notification on that topic goes to the feed only.
    assert await notify(world, "window:8:announced", [ada.user.id]) == 1


async def test_smtp_refusing_then_accepting_is_retried_and_delivered_once(
    world: World, ada: Account, smtp: SmtpSink, clock: ManualClock
) -> None:
    smtp.script = ["451 4.3.0 Mailbox busy, try again later"]
    await notify(world, "busy-mailbox", [ada.user.id], channels=["email"])
    await world.eventually(lambda: smtp.refused == 1)
    (delivery,) = await settled(world, "busy-mailbox", "pending", attempts=1)
    assert delivery.attempts == 1 and "451" in (delivery.last_error or "")
    wait = (delivery.next_attempt_at - clock.now()).total_seconds()
    assert 5 <= wait <= 10  # half to all of the first backoff step (10 s in these settings)
    await later(world, clock, wait + 0.5)
    await world.eventually(lambda: len(smtp.messages) == 1)
    (delivery,) = await settled(world, "busy-mailbox", "delivered")
    assert delivery.attempts == 2 and delivery.last_error is None
    await later(world, clock, 3600)
    assert len(smtp.messages) == 1


async def test_a_mailbox_that_does_not_exist_is_dead_at_once(
    world: World, ada: Account, smtp: SmtpSink, ops: httpx.AsyncClient
) -> None:
    smtp.script = ["550 5.1.1 No such user here"]
    await notify(world, "no-such-user", [ada.user.id], channels=["email"])
    (delivery,) = await settled(world, "no-such-user", "dead")
    assert delivery.attempts == 1 and "550" in (delivery.last_error or "")
    r = await ops.get("/api/1/notifications/deliveries", params={"status": "dead"})
    assert [d["id"] for d in r.json()["response"]["items"]] == [delivery.id]


async def test_the_smtp_server_being_down_is_retried(
    world: World, ada: Account, smtp: SmtpSink, clock: ManualClock
) -> None:
    await smtp.stop()
    await notify(world, "smtp-down", [ada.user.id], channels=["email"])
    (delivery,) = await settled(world, "smtp-down", "pending", attempts=1)
    assert delivery.attempts == 1 and "unreachable" in (delivery.last_error or "")


async def test_non_ascii_subjects_and_names_arrive_intact(world: World, smtp: SmtpSink) -> None:
    user = await world.rt.users.create(
        "zoe@example.com", "correct horse battery", full_name="Zoë Ørsted"
    )
    await notify(
        world,
        "umlauts",
        [user.id],
        subject="Wartung – Laden, Samstag 02:00",
        text="Die Ladefunktion pausiert. Grüße!",
        channels=["email"],
    )
    await world.eventually(lambda: len(smtp.messages) == 1)
    mail = smtp.messages[0]
    assert mail["Subject"] == "Wartung – Laden, Samstag 02:00"
    assert mail["To"] == "Zoë Ørsted <zoe@example.com>"
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and "Grüße!" in text.get_content()
    assert "\n" not in mail["List-Unsubscribe"] and mail["List-Unsubscribe"].startswith("<https")


async def test_a_name_cannot_add_headers_to_a_mail(world: World, smtp: SmtpSink) -> None:
    user = await world.rt.users.create(
        "eve@example.com", "correct horse battery", full_name="Eve\r\nBcc: victim@example.com"
    )
    await notify(
        world, "injection", [user.id], subject="Hi\r\nBcc: x@example.com", channels=["email"]
    )
    await world.eventually(lambda: len(smtp.messages) == 1)
    mail = smtp.messages[0]
    assert mail["Bcc"] is None
    assert [e.rcpt_tos for e in smtp.envelopes] == [["eve@example.com"]]
    assert mail["Subject"] == "Hi Bcc: x@example.com"


async def test_each_mail_of_one_notification_carries_its_own_unsubscribe_link(
    world: World, smtp: SmtpSink
) -> None:
    people = [
        await world.rt.users.create(f"p{n}@example.com", "correct horse battery") for n in range(3)
    ]
    await notify(world, "three", [p.id for p in people], channels=["email"])
    await world.eventually(lambda: len(smtp.messages) == 3)
    links = {}
    for mail in smtp.messages:
        link = mail["List-Unsubscribe"].strip("<>")
        text = mail.get_body(preferencelist=("plain",))
        html = mail.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert link in text.get_content() and link in html.get_content()
        links[mail["To"].addresses[0].addr_spec] = link
    assert len(set(links.values())) == 3
    # One person's link unsubscribes that person, nobody else.
    async with world.client() as http:
        path = links["p1@example.com"].removeprefix("https://pitstop.test")
        assert (await http.post(path, data={"List-Unsubscribe": "One-Click"})).status_code == 200
    prefs = {p.email: await world.rt.notify.preferences.get(p.id) for p in people}
    assert "email" not in prefs["p1@example.com"].channels["maintenance.vehicle_data"]
    assert "email" in prefs["p0@example.com"].channels["maintenance.vehicle_data"]
    assert "email" in prefs["p2@example.com"].channels["maintenance.vehicle_data"]
