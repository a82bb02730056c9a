"""How long from an operator starting a window until EVERY server process answers 503.

    .venv/bin/python -m bench.propagation                    # 50 trials of each feed, 3 servers
    .venv/bin/python -m bench.propagation --trials 100 --feeds postgres,redis

What it does, for each feed (`PITSTOP_MAINTENANCE_FEED`): `poll` (no feed: each process re-reads
the windows every `PITSTOP_MAINTENANCE_POLL_INTERVAL`, by default 0.5 s), `postgres` (LISTEN/NOTIFY) and
`redis` (pub/sub): a fresh PostgreSQL database with an owner and an operator; THREE server
processes (`uvicorn pitstop.app:from_environment --factory`, one worker each) on it, with that
feed. Then, per trial: the operator schedules a window on `vehicle_data` for an hour later, and
starts it now with `POST /api/1/maintenance/{id}/start` sent to one process (each in turn); a
prober per process (its own keep-alive connection) sends `GET /api/1/products` every 5 ms with
NO token, so that a probe costs the server next to nothing (401 outside the window, the gate's
503 in it: no database, no token check). The figure of a trial is the time from just before the
POST is sent until the first 503 has arrived from the last process. Then the operator finishes
the window and waits until every process answers 401 again, and pauses 0-1 s at random (so
that starts fall anywhere in the processes' poll cycles). The bounds of the issue: within 1 s by polling,
within 100 ms with LISTEN/NOTIFY or Redis.

Needs PostgreSQL (`PITSTOP_BENCH_DATABASE_URL`, else `PITSTOP_TEST_DATABASE_URL`, else
postgresql://postgres@127.0.0.1:5432/test; a database is created next to it and dropped) and
Redis (`--redis`, default redis://127.0.0.1:6379). The last figures go to the "propagation"
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import msgspec
from sqlalchemy.engine import make_url

from bench._common import (
    Server,
    Setup,
    machine,
    prepare,
    server_env,
    table,
    today,
    update_results,
    uvicorn_server,
)
from pitstop.settings import Settings

FEEDS = ("poll", "postgres", "redis")
#: The servers' poll interval: the default, which the benchmark does not change.
POLL_INTERVAL = next(
    f.default for f in msgspec.structs.fields(Settings) if f.name == "maintenance_poll_interval"
)
BOUND_MS = {"poll": 1000.0, "postgres": 100.0, "redis": 100.0}
TIMEOUT = 10.0  # seconds a trial may take before it counts as failed


@dataclass
class FeedResult:
    feed: str
    servers: int
    #: milliseconds per trial until every process answered 503 (inf: not within TIMEOUT)
    all_503_ms: list[float] = field(default_factory=list)
    #: the same for the processes that did NOT receive the POST (what the feed has to carry)
    others_ms: list[float] = field(default_factory=list)
    start_request_ms: list[float] = field(default_factory=list)
    #: from the POST's answer until the last process answered 503 (0 if all did before it)
    after_post_ms: list[float] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@contextlib.asynccontextmanager
async def fresh_database(base: str) -> AsyncIterator[str]:
    url = make_url(base)
    name = f"pitstop_bench_{uuid.uuid4().hex[:12]}"

    async def admin() -> asyncpg.Connection:
        return await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database=url.database,
        )

    conn = await admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield url.set(database=name, drivername="postgresql").render_as_string(hide_password=False)
    finally:
        conn = await admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


#: Seconds between two probes of one process (back to back would load the 2 cores the servers
#: need, and slow down what is measured).
PROBE_INTERVAL = 0.005


async def first_answer(
    http: httpx.AsyncClient, url: str, status: int, deadline: float
) -> float | None:
    """Ask `url` every PROBE_INTERVAL until it answers `status`; the moment that answer arrived."""
    while time.perf_counter() < deadline:
        with contextlib.suppress(httpx.TransportError):
            r = await http.get(url)
            if r.status_code == status:  # 503 in the window, 401 (no token) outside
                return time.perf_counter()
        await asyncio.sleep(PROBE_INTERVAL)
    return None


async def trial(
    n: int, servers: list[Server], probes: list[httpx.AsyncClient], ops: httpx.AsyncClient
) -> tuple[float, float, float]:
    """One window started and finished; (ms until all 503, ms until the others 503, ms of the POST)."""
    target = servers[n % len(servers)]
    scheduled = await ops.post(
        f"{target.url}/api/1/maintenance",
        json={
            "title": f"Propagation trial {n}",
            "reason": "configuration",
            "starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "duration_minutes": 30,
            "components": ["vehicle_data"],
        },
    )
    scheduled.raise_for_status()
    window_id = scheduled.json()["response"]["id"]
    # Waiting for the last trial's finish to show everywhere has just lined us up with the
    # slowest process's poll: a random pause puts the start anywhere in the poll cycles.
    await asyncio.sleep(random.uniform(0.05, 1.05))
    t0 = time.perf_counter()
    deadline = t0 + TIMEOUT
    watchers = [
        asyncio.create_task(first_answer(http, f"{s.url}/api/1/products", 503, deadline))
        for s, http in zip(servers, probes, strict=True)
    ]
    started = await ops.post(f"{target.url}/api/1/maintenance/{window_id}/start")
    posted = time.perf_counter()
    started.raise_for_status()
    seen = await asyncio.gather(*watchers)
    at = [math.inf if t is None else (t - t0) * 1000 for t in seen]
    others = [ms for s, ms in zip(servers, at, strict=True) if s is not target]
    finished = await ops.post(f"{target.url}/api/1/maintenance/{window_id}/finish", json={})
    finished.raise_for_status()
    back = time.perf_counter() + TIMEOUT
    reopened = await asyncio.gather(
        *(
            first_answer(http, f"{s.url}/api/1/products", 401, back)
            for s, http in zip(servers, probes, strict=True)
        )
    )
    if None in reopened:
        raise RuntimeError("a process still answered 503 after the window was finished")
    post_ms = (posted - t0) * 1000
    return max(at), max(others), post_ms


async def run_feed(args: argparse.Namespace, feed: str, tmp: Path) -> FeedResult:
    async with fresh_database(args.database_url) as database_url:
        data_dir = tmp / feed
        data_dir.mkdir()
        setup: Setup = await prepare(data_dir, database_url=database_url)
        env = server_env(setup) | {"PITSTOP_MAINTENANCE_FEED": feed}
        if feed == "redis":
            env["PITSTOP_REDIS_URL"] = args.redis
        result = FeedResult(feed, args.servers)
        with contextlib.ExitStack() as stack:
            servers = [
                stack.enter_context(
                    uvicorn_server(
                        "pitstop.app:from_environment",
                        env | {"PITSTOP_DATA_DIR": str(data_dir / f"server{i}")},
                        factory=True,
                        log=tmp / f"{feed}-server{i}.log",
                    )
                )
                for i in range(args.servers)
            ]
            operator = {"Authorization": f"Bearer {setup.operator_token}"}
            async with contextlib.AsyncExitStack() as clients:
                probes = [
                    await clients.enter_async_context(httpx.AsyncClient(timeout=5)) for _ in servers
                ]
                ops = await clients.enter_async_context(
                    httpx.AsyncClient(headers=operator, timeout=10)
                )
                for n in range(args.trials):
                    all_ms, others_ms, post_ms = await trial(n, servers, probes, ops)
                    result.all_503_ms.append(all_ms)
                    result.others_ms.append(others_ms)
                    result.start_request_ms.append(post_ms)
                    result.after_post_ms.append(max(0.0, all_ms - post_ms))
                    if (n + 1) % 10 == 0:
                        print(
                            f"{feed:8} {n + 1:3} trials: p50 {percentile(result.all_503_ms, 50):7.1f} ms"
                            f"  max {max(result.all_503_ms):7.1f} ms"
                        )
        return result


async def run(args: argparse.Namespace) -> int:
    results = []
    args.load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="pitstop-bench-") as tmp:
        for feed in args.feeds:
            results.append(await run_feed(args, feed, Path(tmp)))
            args.load.append(os.getloadavg()[0])
    return report(args, results)


def report(args: argparse.Namespace, results: list[FeedResult]) -> int:
    rows = []
    verdicts = []
    for r in results:
        bound = BOUND_MS[r.feed]
        p50, p99 = percentile(r.all_503_ms, 50), percentile(r.all_503_ms, 99)
        failed = sum(1 for ms in r.all_503_ms if math.isinf(ms))
        verdict = "meets" if p99 <= bound and not failed else "misses"
        verdicts.append(f"{r.feed}: p99 {p99:.0f} ms, {verdict} the bound of {bound:.0f} ms")
        rows.append(
            (
                f"`{r.feed}`",
                len(r.all_503_ms),
                f"**{p50:.1f}**",
                f"{percentile(r.all_503_ms, 90):.1f}",
                f"**{p99:.1f}**",
                f"{max(r.all_503_ms):.1f}",
                f"{percentile(r.others_ms, 50):.1f} / {percentile(r.others_ms, 99):.1f}",
                f"{statistics.median(r.start_request_ms):.1f} / {max(r.start_request_ms):.1f}",
                f"{percentile(r.after_post_ms, 50):.1f} / {percentile(r.after_post_ms, 99):.1f}",
                failed,
                f"≤ {bound:.0f}: {verdict}",
            )
        )
    header = [
        "feed",
        "trials",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "processes that did not get the POST: p50 / p99 ms",
        "the POST /start itself, median / max ms",
        "after the POST's answer, until the last 503: p50 / p99 ms",
        "not within 10 s",
        "bound (issue)",
    ]
    command = shlex.join([".venv/bin/python", "-m", "bench.propagation", *sys.argv[1:]])
    markdown = f"""## Propagation: a window started until every process answers 503

What: {args.servers} server processes (`uvicorn pitstop.app:from_environment --factory`, one
worker each) on one fresh PostgreSQL database, with `PITSTOP_MAINTENANCE_FEED` = `poll` (no feed;
each process re-reads every {POLL_INTERVAL:g} s, the default), `postgres` (LISTEN/NOTIFY) or
`redis` (pub/sub). Per trial,
the operator schedules a window on `vehicle_data` for later and starts it with
`POST /api/1/maintenance/{{id}}/start`, sent to each process in turn, while one prober per process
sends `GET /api/1/products` every 5 ms on its own connection, with no token so that a probe
costs next to nothing (401 outside the window, the gate's 503 in it). Figure: from just before
the POST is sent until the first 503 has ARRIVED from the last process (so it includes the POST
itself, and up to 5 ms plus one probe's round trip). Then the window is finished, every
process answers 401 again, and a random pause of 0-1 s puts the next start anywhere in the
processes' poll cycles.

- Command: `{command}`
- Date: {today()}
- Machine: {machine()}; PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379, the servers and the
  probers share the 2 cores; load average (1 min) at the start and after each feed:
  {" / ".join(f"{x:.1f}" for x in args.load)} (other work on the machine shows here: these are
  latencies, not ratios)

{table(header, rows)}

Result: {"; ".join(verdicts)}. Most of a trial is the POST itself (the start is committed
inside it, and the feed's message leaves right after the commit); the column after it shows what
is left once the operator has the answer.
"""
    update_results("propagation", markdown)
    print("\n" + "\n".join(verdicts))
    print("written to bench/RESULTS.md")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=50, help="windows per feed (default 50)")
    parser.add_argument("--servers", type=int, default=3, help="server processes (default 3)")
    parser.add_argument(
        "--feeds", default=",".join(FEEDS), help=f"comma-separated, of {', '.join(FEEDS)}"
    )
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379", help="Redis for the redis feed"
    )
    args = parser.parse_args()
    args.feeds = [f.strip() for f in args.feeds.split(",") if f.strip()]
    args.database_url = (
        os.environ.get("PITSTOP_BENCH_DATABASE_URL")
        or os.environ.get("PITSTOP_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )
    if not set(args.feeds) <= set(FEEDS) or not args.feeds:
        parser.error(f"--feeds: some of {', '.join(FEEDS)}")
    if not (1 <= args.trials <= 1000 and 2 <= args.servers <= 8):
        parser.error("trials 1-1000, servers 2-8")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
