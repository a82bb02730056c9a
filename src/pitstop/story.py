"""`pitstop demo --story`: one maintenance window walked through its life in a few minutes.

While the simulated cars go on, the story schedules a window over the whole service, and then
lets the real parts do their work: the announcer mails the owner (the demo inbox shows it), a
reminder follows, the scheduler starts the window on time (the app shows its notice, the status
page shows maintenance, the API answers 503 with Retry-After), the operator extends it with an
update, then finishes it (back online, 200 again). Nothing is faked: the story only does what
an operator would do, on real time, and reports what a client sees at each step.

The pace: `Pacing` in seconds of wall time; `speed` divides them all (the tests run it fast).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx

from pitstop.availability.windows import COMPLETED, IN_PROGRESS, WindowRequest
from pitstop.notify.mailbox import MailSink
from pitstop.runtime import Runtime

TITLE = "Database upgrade (demo story)"
OWNER = "owner@pitstop.example"


@dataclass(frozen=True)
class Pacing:
    """Wall-clock seconds for each part of the story (divided by `speed`)."""

    lead: float = 150.0  # from scheduling to the start
    reminder: float = 90.0  # the reminder comes this long before the start
    duration: float = 120.0  # as first planned
    until_extension: float = 40.0  # how long the window runs before it is extended
    extension_minutes: float = 5.0
    until_finish: float = 40.0  # from the extension to the finish

    def scaled(self, speed: float) -> Pacing:
        return Pacing(
            lead=self.lead / speed,
            reminder=self.reminder / speed,
            duration=self.duration / speed,
            until_extension=self.until_extension / speed,
            extension_minutes=self.extension_minutes / speed,
            until_finish=self.until_finish / speed,
        )

    @property
    def reminder_hours(self) -> float:
        """For `maintenance_reminders`: the story's reminder lead, in hours."""
        return self.reminder / 3600


@dataclass
class Step:
    name: str
    mails: int  # mails in the inbox when the step was seen (owner's and operator's)
    api_status: int  # what the owner's GET /api/1/vehicles answered


class Story:
    def __init__(
        self,
        rt: Runtime,
        sink: MailSink,
        *,
        url: str,
        owner_token: str,
        operator: str,
        say: Callable[[str], None],
        pacing: Pacing,
        owner_email: str = OWNER,
    ) -> None:
        self.rt = rt
        self.sink = sink
        self.url = url
        self.owner_token = owner_token
        self.operator = operator
        self.say = say
        self.pacing = pacing
        self.owner_email = owner_email
        self.steps: list[Step] = []
        self.window_id: int | None = None
        self._seen: set[int] = set()

    async def _api_status(self) -> int:
        async with httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.owner_token}"}, timeout=10
        ) as http:
            response = await http.get("/api/1/vehicles")
        return response.status_code

    async def _mail(self, subject: str, what: str) -> None:
        """Wait for the owner's mail whose subject starts with `subject`, then say so."""
        box = self.sink.mailbox
        try:
            async with asyncio.timeout(max(30.0, self.pacing.lead)):
                while True:
                    for mail in box.latest(20):
                        if (
                            mail.subject.startswith(subject)
                            and self.owner_email in mail.to
                            and mail.id not in self._seen
                        ):
                            self._seen.add(mail.id)
                            self.say(
                                f'   Mail in the demo inbox: "{mail.subject}" → '
                                f"{self.url}/admin/mail/{mail.id}"
                            )
                            return
                    await asyncio.sleep(0.2)
        except TimeoutError:
            self.say(f"   (no {what} mail has arrived in the demo inbox yet)")

    async def _step(self, name: str) -> None:
        self.steps.append(Step(name, self.sink.mailbox.count(), await self._api_status()))

    async def _status_of(self, window_id: int, status: str, within: float) -> None:
        async with asyncio.timeout(within):
            while True:
                if (await self.rt.windows.get(window_id)).status == status:
                    return
                await asyncio.sleep(0.2)

    async def run(self) -> None:
        p = self.pacing
        app, status, inbox = f"{self.url}/app", f"{self.url}/status", f"{self.url}/admin/mail"
        self.say("\n[bold]The maintenance story[/] begins. Watch it in a browser:")
        self.say(f"   the owner app  {app}  (owner@pitstop.example / pitstop-demo)")
        self.say(f"   the status page {status}")
        self.say(f"   the demo inbox {inbox}  (operator@pitstop.example / pitstop-demo)")
        self.say(f"   the console    {self.url}/admin")
        start = self.rt.clock.now() + timedelta(seconds=p.lead)
        window = await self.rt.windows.schedule(
            WindowRequest(
                title=TITLE,
                reason="performance",
                description="The database moves to faster disks. Your cars keep driving and charging as usual.",
                starts_at=start,
                duration_minutes=p.duration / 60,
            ),
            self.operator,
        )
        self.window_id = window.id
        self.say(
            f"\n[bold]1. Announced.[/] Window {window.id} starts at {start:%H:%M:%S} UTC "
            f"(in {p.lead:g} s) for {p.duration:g} s. The app shows a banner; the status page "
            f"lists it under upcoming: {status}"
        )
        await self._mail("Planned maintenance", "announcement")
        await self._step("announced")

        await asyncio.sleep(max(0.0, (start - self.rt.clock.now()).total_seconds() - p.reminder))
        self.say(f"\n[bold]2. Reminded[/] {p.reminder:g} s before the start.")
        await self._mail("Reminder", "reminder")
        await self._step("reminded")

        await self._status_of(window.id, IN_PROGRESS, p.lead + 30)
        code = await self._api_status()
        self.say(
            f"\n[bold]3. Started[/] on time by the scheduler. The API answers {code} with "
            f"Retry-After; the app at {app} shows the maintenance notice with a countdown and "
            f"the cars' last-known state; {status} shows maintenance. The cars keep driving."
        )
        await self._mail("Maintenance has started", "start")
        await self._step("started")

        await asyncio.sleep(p.until_extension)
        await self.rt.windows.extend(
            window.id,
            p.extension_minutes,
            self.operator,
            message="Copying the data takes longer than planned; everything is safe.",
        )
        self.say(
            f"\n[bold]4. Extended[/] by {p.extension_minutes:g} minutes with an update. "
            f"The countdown in the app and on {status} moves; owners get a mail."
        )
        await self._mail("Maintenance extended", "extension")
        await self._step("extended")

        await asyncio.sleep(p.until_finish)
        await self.rt.windows.finish(
            window.id, self.operator, message="The database runs on its new disks."
        )
        await self._status_of(window.id, COMPLETED, 30)
        code = await self._api_status()
        self.say(
            f"\n[bold]5. Finished: back online.[/] The API answers {code}; the app recovers "
            f"by itself, without a reload; {status} shows the window in its history."
        )
        await self._mail("Pitstop is back online", "back-online")
        await self._step("finished")
        self.say(
            f"\nThe story is over: {self.sink.mailbox.count()} mails in {inbox}. "
            "The demo runs on; Ctrl-C stops it."
        )
