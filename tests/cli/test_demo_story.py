"""`pitstop demo --story` as a real process: each step of the maintenance story is printed as it
happens and can be seen from outside (the mail in the demo inbox, the API's 503 during the
window and 200 after, the status page); the inbox survives a restart of the demo and an
operator reads it at /admin/mail."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx

from pitstop.demo import CARS
from pitstop.notify.mailbox import Mailbox, mail_dir

STEPS = ("1. Announced.", "2. Reminded", "3. Started", "4. Extended", "5. Finished")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _demo(data_dir: Path, port: int, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pitstop",
        "demo",
        "--port",
        str(port),
        *extra,
        env={**os.environ, "PITSTOP_DATA_DIR": str(data_dir)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _stop(process: asyncio.subprocess.Process) -> str:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, out.decode()
    return out.decode()


async def _line(process: asyncio.subprocess.Process, start: str, seen: list[str]) -> str:
    """Read output until a line starting with `start` (after stripping); keep every line."""
    assert process.stdout is not None
    while True:
        raw = await process.stdout.readline()
        assert raw, "the demo ended early:\n" + "\n".join(seen)
        line = raw.decode().rstrip()
        seen.append(line)
        if line.strip().startswith(start):
            return line


def _owner_subjects(data_dir: Path) -> list[str]:
    """The owner's maintenance mails, oldest first (vehicle alerts, which name a car, left out:
    the demo's Red Model 3 is due for service)."""
    box = Mailbox(mail_dir(data_dir))
    cars = [name for _, name, _, _ in CARS]
    return [
        m.subject
        for m in reversed(box.latest())
        if "owner@pitstop.example" in m.to and not any(car in m.subject for car in cars)
    ]


async def test_the_story_walks_a_window_through_its_life_seen_from_outside(
    tmp_path: Path,
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    demo = await _demo(tmp_path, port, "--story", "--story-speed", "10")
    seen: list[str] = []
    try:
        async with asyncio.timeout(120):
            await _line(demo, "Mail:", seen)
            info = json.loads((tmp_path / "demo.json").read_text())
            owner = httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {info['owner_token']}"}
            )
            async with owner:
                await _line(demo, STEPS[0], seen)
                mail = await _line(demo, "Mail in the demo inbox", seen)
                assert "Planned maintenance: Database upgrade (demo story)" in mail
                assert _owner_subjects(tmp_path)[0].startswith("Planned maintenance")
                status = (await owner.get("/api/1/status")).json()["response"]
                assert [w["title"] for w in status["upcoming"]] == [
                    "Database upgrade (demo story)"
                ], status
                assert (await owner.get("/api/1/vehicles")).status_code == 200

                await _line(demo, STEPS[1], seen)
                await _line(demo, "Mail in the demo inbox", seen)
                assert _owner_subjects(tmp_path)[1].startswith("Reminder: maintenance in")

                started = await _line(demo, STEPS[2], seen)
                assert "The API answers 503" in started and f"{url}/app" in started
                during = await owner.get("/api/1/vehicles")
                assert during.status_code == 503 and int(during.headers["Retry-After"]) > 0
                assert during.json()["error"] == "server_maintenance"
                page = await owner.get("/status")
                assert "Maintenance in progress" in page.text
                # The cars go on: the link is not part of the window.
                await _line(demo, "Mail in the demo inbox", seen)
                assert _owner_subjects(tmp_path)[2].startswith("Maintenance has started")

                await _line(demo, STEPS[3], seen)
                await _line(demo, "Mail in the demo inbox", seen)
                assert _owner_subjects(tmp_path)[3].startswith("Maintenance extended")
                assert (await owner.get("/api/1/vehicles")).status_code == 503

                finished = await _line(demo, STEPS[4], seen)
                assert "The API answers 200" in finished
                assert (await owner.get("/api/1/vehicles")).status_code == 200
                await _line(demo, "Mail in the demo inbox", seen)
                assert _owner_subjects(tmp_path)[4].startswith("Pitstop is back online")
                await _line(demo, "The story is over", seen)
                while Mailbox(mail_dir(tmp_path)).count() < 10:  # the operator's last one
                    await asyncio.sleep(0.1)
                vehicles = (await owner.get("/api/1/vehicles")).json()["response"]
                assert {v["vin"] for v in vehicles} == set(info["vins"])
    finally:
        out = await _stop(demo)
    assert "stopped cleanly" in out
    mails = Mailbox(mail_dir(tmp_path)).latest()
    body = next(m for m in mails if m.subject.startswith("Planned maintenance"))
    assert body.text is not None and f"{url}/status" in body.text  # links to the demo itself

    # Restarted, the demo keeps its inbox; an operator reads it at /admin/mail.
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    again = await _demo(tmp_path, port)
    try:
        async with asyncio.timeout(60):
            await _line(again, "Mail:", [])
        async with httpx.AsyncClient(base_url=url, headers={"Origin": url}) as browser:
            r = await browser.post(
                "/admin/signin",
                data={"email": "operator@pitstop.example", "password": "pitstop-demo"},
            )
            assert r.status_code == 303 and r.headers["location"] == "/admin"
            inbox = await browser.get("/admin/mail")
            assert inbox.status_code == 200
            listed = re.findall(r'<a href="/admin/mail/\d+">([^<]+)</a>', inbox.text)
            assert len(listed) == len(mails) >= 10  # the owner's and the operator's
            assert any(s.startswith("Pitstop is back online") for s in listed)
    finally:
        await _stop(again)
