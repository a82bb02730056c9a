"""The demo's inbox (notify/mailbox.py) behind its real SMTP sink: mails that arrive at once,
on several connections, are all kept, each whole under its own number."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from pitstop.notify.mailbox import Mailbox, MailSink


async def test_mails_arriving_together_on_many_connections_are_all_kept(tmp_path: Path) -> None:
    sink = MailSink(Mailbox(tmp_path / "mail"))
    await sink.start()
    try:

        async def send(n: int) -> None:
            mail = EmailMessage()
            mail["From"] = "noreply@pitstop.test"
            mail["To"] = f"owner{n}@pitstop.example"
            mail["Subject"] = f"mail {n}"
            mail.set_content(f"body {n}\n" * 200)
            await aiosmtplib.send(mail, hostname="127.0.0.1", port=sink.port)

        await asyncio.gather(*(send(n) for n in range(40)))
    finally:
        await sink.stop()
    box = Mailbox(tmp_path / "mail")  # as another process (the console) reads it
    assert sorted(box.ids()) == list(range(1, 41))
    subjects = {m.subject for m in box.latest(limit=100)}
    assert subjects == {f"mail {n}" for n in range(40)}
    assert not list((tmp_path / "mail").glob(".*.tmp"))


def test_writers_starting_at_the_same_instant_never_share_a_number(tmp_path: Path) -> None:
    """Several first mails written at once, by threads and by writers that each keep their own
    count (two sinks on one folder, as in a process that runs a demo and its tests)."""
    for round_no in range(10):
        folder = tmp_path / f"round{round_no}"
        boxes = [Mailbox(folder), Mailbox(folder)]
        box = boxes[0]
        start = threading.Barrier(8)

        def write(n: int, boxes: list[Mailbox] = boxes, start: threading.Barrier = start) -> int:
            start.wait()
            return boxes[n % 2].add(f"Subject: mail {n}\r\n\r\nbody {n}\r\n".encode())

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(write, range(8)))
        assert sorted(ids) == list(range(1, 9))
        assert {box.get(i).subject for i in ids} == {f"mail {n}" for n in range(8)}  # type: ignore[union-attr]
