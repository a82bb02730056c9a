"""The gate's 503 answer during a full window against raw ASGI with the same bytes, in one run.

    .venv/bin/python -m bench.gate_503             # 3 rounds of raw/gate, 10 s each
    .venv/bin/python -m bench.gate_503 --profile   # and a py-spy profile of one more gate run

What it does: a fresh SQLite data dir with an owner, an operator (and their tokens) and one
registered car; ONE uvicorn worker serving `bench/gate_app.py`. The operator schedules a
maintenance window of the whole service and starts it at once (POST /api/1/maintenance, then
/start), so the gate answers every API request 503 with the Tesla envelope. The benchmark takes
one such answer to `GET /api/1/vehicles/{VIN}/vehicle_data` (the owner's token; status, headers
but the server's own `date` and `server`, body) and gives it to `/raw`, a bare ASGI answer in the
same process; then wrk (one thread, closed loop, same Authorization header on both) alternates
raw and gate runs, the first side switching every round. Every answer must be that 503: anything else fails the run. The figure is the
median over rounds of gate/raw; the issue's goal is 0.9 or more.

Needs wrk (`apt-get install -y wrk`); `--profile` needs py-spy (`uv tool install py-spy`).
The last figures go to the "gate_503" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._common import (
    REPO,
    Server,
    Setup,
    WrkResult,
    find_py_spy,
    machine,
    prepare,
    server_env,
    start_py_spy,
    stop_process,
    summarize_profile,
    table,
    today,
    update_results,
    uvicorn_server,
    wrk,
)

VIN = "5YJ3BENCH00000001"
PATH = f"/api/1/vehicles/{VIN}/vehicle_data"
GOAL = 0.9
OUT = REPO / "bench" / "out"


async def start_window(server: Server, operator_token: str) -> dict[str, object]:
    """A window of the whole service, scheduled for later and started now by the operator."""
    headers = {"Authorization": f"Bearer {operator_token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as ops:
        scheduled = await ops.post(
            "/api/1/maintenance",
            json={
                "title": "Database upgrade",
                "reason": "security_update",
                "description": "Moving to a new database server.",
                "starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "duration_minutes": 180,
            },
        )
        scheduled.raise_for_status()
        window_id = scheduled.json()["response"]["id"]
        started = await ops.post(f"/api/1/maintenance/{window_id}/start")
        started.raise_for_status()
        window: dict[str, object] = started.json()["response"]
    return window


async def share_answer(server: Server, token: str) -> httpx.Response:
    """Give /raw the status, headers and bytes of the gate's 503; check both answer the same."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
        real = await http.get(PATH)
        if real.status_code != 503 or real.json()["error"] != "server_maintenance":
            raise RuntimeError(f"the gate answered {real.status_code}: {real.text}")
        own = [(k, v) for k, v in real.headers.multi_items() if k not in ("date", "server")]
        spec = {
            "status": real.status_code,
            "headers": own,
            "body": base64.b64encode(real.content).decode(),
        }
        (await http.put("/_bench/raw", json=spec)).raise_for_status()
        raw = await http.get("/raw")
        raw_own = [(k, v) for k, v in raw.headers.multi_items() if k not in ("date", "server")]
        if (raw.status_code, raw_own, raw.content) != (real.status_code, own, real.content):
            raise RuntimeError("/raw does not answer what the gate answers")
    return real


def all_503(result: WrkResult) -> bool:
    return result.non_2xx == result.requests and result.socket_errors == 0


async def run(args: argparse.Namespace) -> int:
    args.load = [os.getloadavg()[0]]
    if shutil.which("wrk") is None:
        print("wrk is missing: install it with `apt-get install -y wrk` (Debian).", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pitstop-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        setup = await prepare(data_dir, vins=[VIN])
        log = Path(tmp) / "server.log"
        with uvicorn_server("bench.gate_app:app", server_env(setup), log=log) as server:
            try:
                return await measure(args, server, setup)
            except BaseException:
                print(log.read_text(), file=sys.stderr)
                raise


async def measure(args: argparse.Namespace, server: Server, setup: Setup) -> int:
    token = setup.owner_token
    await start_window(server, setup.operator_token)
    answer = await share_answer(server, token)
    urls = {"raw": f"{server.url}/raw", "gate": f"{server.url}{PATH}"}
    print(f"503 answer: {len(answer.content)} bytes; server pid {server.pid}")
    for target, url in urls.items():  # warm-up, not counted
        await wrk(server, target, url, token, duration=2, connections=args.connections)
    results: list[WrkResult] = []
    for round_no in range(1, args.rounds + 1):
        # The side that goes first switches every round: a run can be slowed by the one before.
        order = list(urls.items()) if round_no % 2 else list(reversed(urls.items()))
        for target, url in order:
            r = await wrk(
                server, target, url, token, duration=args.duration, connections=args.connections
            )
            results.append(r)
            print(
                f"round {round_no} {target:5} {r.requests_per_s:9.0f} req/s  "
                f"avg {r.latency_avg_ms:6.2f} ms  server CPU {r.server_cpu:4.0f}% "
                f"({r.server_us:4.1f} µs/req)  503s {r.non_2xx}/{r.requests}  "
                f"socket errors {r.socket_errors}"
            )
    profile_text = ""
    if args.profile:
        path = OUT / "gate_503.pyspy.txt"
        spy = start_py_spy(args.py_spy, server.pid, path, duration=args.duration, rate=250)
        try:
            await wrk(
                server, "gate", urls["gate"], token, duration=args.duration,
                connections=args.connections,
            )  # fmt: skip
            await asyncio.to_thread(spy.wait, 30)
        finally:
            stop_process(spy, grace=5)
        profile_text = summarize_profile(path, note=" (py-spy at 250 Hz)")
        print(profile_text)
        print(f"collapsed stacks: {path}")
    args.load.append(os.getloadavg()[0])
    return report(args, results, answer, profile_text)


def report(
    args: argparse.Namespace, results: list[WrkResult], answer: httpx.Response, profile_text: str
) -> int:
    raw = [r for r in results if r.target == "raw"]
    gate = [r for r in results if r.target == "gate"]
    pairs = list(zip(raw, gate, strict=True))
    ratio = statistics.median(g.requests_per_s / r.requests_per_s for r, g in pairs)
    cost_ratio = statistics.median(r.server_us / g.server_us for r, g in pairs)
    failures = sum(0 if all_503(r) else 1 for r in results)
    verdict = "meets" if ratio >= GOAL else "misses"
    print(
        f"\nmedian raw {statistics.median(r.requests_per_s for r in raw):.0f} req/s, gate "
        f"{statistics.median(g.requests_per_s for g in gate):.0f} req/s, ratio {ratio:.2f} "
        f"({verdict} the goal of {GOAL}); server CPU per request raw/gate {cost_ratio:.2f}; "
        f"runs with an answer other than the 503: {failures}"
    )
    rows: list[tuple[object, ...]] = [
        (
            i,
            f"{r.requests_per_s:,.0f}",
            f"{g.requests_per_s:,.0f}",
            f"{g.requests_per_s / r.requests_per_s:.2f}",
            f"{r.latency_avg_ms:.2f} / {g.latency_avg_ms:.2f}",
            f"{r.server_us:.1f} / {g.server_us:.1f}",
            f"{r.non_2xx:,} / {g.non_2xx:,}",
            f"{r.requests - r.non_2xx + r.socket_errors} / {g.requests - g.non_2xx + g.socket_errors}",
        )
        for i, (r, g) in enumerate(pairs, start=1)
    ]
    rows.append(
        (
            "**median**",
            f"**{statistics.median(r.requests_per_s for r in raw):,.0f}**",
            f"**{statistics.median(g.requests_per_s for g in gate):,.0f}**",
            f"**{ratio:.2f}**",
            "",
            f"{statistics.median(r.server_us for r in raw):.1f} / "
            f"{statistics.median(g.server_us for g in gate):.1f}",
            "",
            "",
        )
    )
    header = [
        "round",
        "raw req/s",
        "gate req/s",
        "gate/raw",
        "avg latency ms raw / gate",
        "server CPU µs/req raw / gate",
        "503 answers raw / gate",
        "other answers + socket errors raw / gate",
    ]
    shown = ", ".join(
        f"`{k}: {v}`" for k, v in answer.headers.multi_items() if k not in ("date", "server")
    )
    command = shlex.join([".venv/bin/python", "-m", "bench.gate_503", *sys.argv[1:]])
    markdown = f"""## The gate's 503 during a full window vs raw ASGI

What: requests/s of `GET {PATH}` with an owner's token while a window of the whole service is
in progress, answered 503 by the gate (**gate**: the real app; `create_app`'s `GatedStarlette`
hands the request to the gate before anything of Starlette's, and the gate checks whether the
caller is an operator who may pass, then answers from its memos with a per-client Retry-After), against `GET /raw`
(**raw**: a bare ASGI answer with the same status, headers and {len(answer.content)}-byte body),
served by the same single uvicorn worker (uvloop, httptools) in the same run (`bench/gate_app.py`),
alternating, the first side switching every round. The answer: 503, {shown}, Tesla's envelope with `server_maintenance` and the
window. Load: wrk, 1 thread, {args.connections} connections, closed loop, {args.duration} s per
run after a 2 s warm-up of each. Goal (issue): gate/raw ≥ {GOAL}.

- Command: `{command}`
- Date: {today()}
- Machine: {machine()}; wrk and the server share the 2 cores; load average (1 min)
  {args.load[0]:.1f} before the run, {args.load[1]:.1f} after (other work shares the machine)

{table(header, rows)}

Result: gate/raw **{ratio:.2f}**, {verdict} the goal of {GOAL}. Server CPU per request, raw over
gate: **{cost_ratio:.2f}**.
"""
    if profile_text:
        markdown += f"\n### Profile of the server during a gate run (py-spy)\n\n{profile_text}\n"
    update_results("gate_503", markdown)
    print("written to bench/RESULTS.md")
    if failures:
        print("FAILED: some answers were not the 503", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="raw+gate pairs (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--profile", action="store_true", help="py-spy one more gate run")
    args = parser.parse_args()
    args.py_spy = find_py_spy()
    if args.profile and args.py_spy is None:
        parser.error("--profile needs py-spy: `uv tool install py-spy` (not a project dependency)")
    if args.profile:
        OUT.mkdir(exist_ok=True)
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 120 and 1 <= args.connections <= 1024):
        parser.error("rounds 1-20, duration 1-120 s, connections 1-1024")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
