"""vehicle_data throughput against raw ASGI with the same payload, side by side in one run.

    .venv/bin/python -m bench.vehicle_data            # 3 rounds of raw/pitstop/route, 10 s each
    .venv/bin/python -m bench.vehicle_data --rounds 5 --duration 8 --connections 32
    .venv/bin/python -m bench.vehicle_data --profile  # and a py-spy profile of one more Pitstop run

What it does: a fresh SQLite data dir with an owner, one registered car and the owner's access
token; ONE uvicorn worker serving `bench/vehicle_data_app.py` (`/raw` is a bare ASGI answer with
the exact bytes and content type of `/api/1/vehicles/{VIN}/vehicle_data`; everything else is the
real Pitstop app: real auth, real state); a simulated parked car on the real WebSocket link for
the whole run. Then wrk (one thread, closed loop, same Authorization header on all) alternates
three targets: raw; Pitstop's plain vehicle_data (what most reads are, answered by the fast path
in pitstop/fleet/fast.py); and the same read with `?endpoints=` naming every section, which
builds the same bytes through Starlette's router and the route (the fast path leaves any query
string to the route). The figure is the median over the rounds of pitstop/raw; the issue's goal
is a ratio of 0.65 or more. Any non-2xx answer or socket error fails the run: a benchmark of 401s
would be meaningless.

Needs wrk (`apt-get install -y wrk`); `--profile` needs py-spy
(`uv tool install py-spy`, which `uv sync` leaves alone; not a project dependency).
The last figures go to the "vehicle_data" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

from bench._common import (
    REPO,
    Server,
    WrkResult,
    find_py_spy,
    machine,
    prepare,
    server_env,
    start_car,
    start_py_spy,
    stop_process,
    summarize_profile,
    table,
    today,
    update_results,
    uvicorn_server,
    wrk,
)
from pitstop.fleet.routes import SECTIONS

VIN = "5YJ3BENCH00000001"
#: The same body as a plain read, built by the route: every section, in the route's order.
ALL_SECTIONS = ";".join(SECTIONS)
GOAL = 0.65
OUT = REPO / "bench" / "out"


async def share_body(server: Server, token: str) -> bytes:
    """Give /raw the bytes and content type of vehicle_data; check all three answer the same."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
        for _ in range(20):  # the car may report between two reads: then read both again
            real = await http.get(f"/api/1/vehicles/{VIN}/vehicle_data")
            if real.status_code != 200:
                raise RuntimeError(f"vehicle_data answered {real.status_code}: {real.text}")
            route = await http.get(f"/api/1/vehicles/{VIN}/vehicle_data?endpoints={ALL_SECTIONS}")
            if route.content == real.content:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("vehicle_data?endpoints=(every section) differs from vehicle_data")
        content_type = real.headers["content-type"]
        put = await http.put(
            "/_bench/raw-body", content=real.content, headers={"content-type": content_type}
        )
        put.raise_for_status()
        raw = await http.get("/raw")
        if raw.content != real.content or raw.headers["content-type"] != content_type:
            raise RuntimeError("/raw does not answer what vehicle_data answers")
    return real.content


async def profile(
    server: Server, py_spy: str, url: str, token: str, *, duration: int, connections: int
) -> Path:
    """py-spy on the server during one more Pitstop run; returns the collapsed-stack file."""
    path = OUT / "vehicle_data.pyspy.txt"
    spy = start_py_spy(py_spy, server.pid, path, duration=duration, rate=250)
    try:
        await wrk(server, "pitstop", url, token, duration=duration, connections=connections)
        await asyncio.to_thread(spy.wait, 30)
    finally:
        stop_process(spy, grace=5)
    return path


async def run(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: install it with `apt-get install -y wrk` (Debian).", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pitstop-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        setup = await prepare(data_dir, vins=[VIN])
        log = Path(tmp) / "server.log"
        env = server_env(setup)
        with uvicorn_server("bench.vehicle_data_app:app", env, log=log) as server:
            try:
                return await measure(args, server, setup.owner_token, setup.cars[VIN])
            except BaseException:
                print(log.read_text(), file=sys.stderr)
                raise


async def measure(args: argparse.Namespace, server: Server, token: str, car_secret: str) -> int:
    car, car_task = await start_car(server, VIN, car_secret)
    try:
        body = await share_body(server, token)
        urls = {
            "raw": f"{server.url}/raw",
            "pitstop": f"{server.url}/api/1/vehicles/{VIN}/vehicle_data",
            "route": f"{server.url}/api/1/vehicles/{VIN}/vehicle_data?endpoints={ALL_SECTIONS}",
        }
        print(f"payload: {len(body)} bytes; server pid {server.pid}; wrk -t1 -c{args.connections}")
        for target, url in urls.items():  # warm-up, not counted
            await wrk(server, target, url, token, duration=2, connections=args.connections)
        results: list[WrkResult] = []
        for round_no in range(1, args.rounds + 1):
            for target, url in urls.items():
                result = await wrk(
                    server, target, url, token, duration=args.duration, connections=args.connections
                )
                results.append(result)
                print(
                    f"round {round_no} {target:8} {result.requests_per_s:9.0f} req/s  "
                    f"avg {result.latency_avg_ms:6.2f} ms  server CPU {result.server_cpu:4.0f}% "
                    f"({result.server_us:4.1f} µs/req)  "
                    f"non-2xx {result.non_2xx}  socket errors {result.socket_errors}"
                )
        profile_text = ""
        if args.profile:
            path = await profile(
                server,
                args.py_spy,
                urls["pitstop"],
                token,
                duration=args.duration,
                connections=args.connections,
            )
            profile_text = summarize_profile(
                path,
                note=" (py-spy at 250 Hz; the lines of uvicorn's `send` that stand out are "
                "`transport.write`, i.e. the socket syscalls)",
            )
            print(profile_text)
            print(f"collapsed stacks: {path}")
    finally:
        car_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await car_task
    return report(args, results, len(body), car.connections, profile_text)


def report(
    args: argparse.Namespace,
    results: list[WrkResult],
    payload: int,
    car_connections: int,
    profile_text: str,
) -> int:
    raw = [r for r in results if r.target == "raw"]
    real = [r for r in results if r.target == "pitstop"]
    route = [r for r in results if r.target == "route"]
    rounds = list(zip(raw, real, route, strict=True))
    ratio = statistics.median(p.requests_per_s / r.requests_per_s for r, p, _ in rounds)
    route_ratio = statistics.median(q.requests_per_s / r.requests_per_s for r, _, q in rounds)
    cost_ratio = statistics.median(r.server_us / p.server_us for r, p, _ in rounds)
    failures = sum(r.non_2xx + r.socket_errors for r in results)
    verdict = "meets" if ratio >= GOAL else "misses"

    def median_rps(runs: list[WrkResult]) -> float:
        return statistics.median(r.requests_per_s for r in runs)

    def median_us(runs: list[WrkResult]) -> float:
        return statistics.median(r.server_us for r in runs)

    print(
        f"\nmedian raw {median_rps(raw):.0f} req/s, pitstop {median_rps(real):.0f} req/s, "
        f"route {median_rps(route):.0f} req/s; pitstop/raw {ratio:.2f} ({verdict} the goal of "
        f"{GOAL}), route/raw {route_ratio:.2f}; server CPU per request raw/pitstop "
        f"{cost_ratio:.2f}; non-2xx + socket errors: {failures}"
    )
    command = ".venv/bin/python -m bench.vehicle_data " + shlex.join(sys.argv[1:])
    rows: list[tuple[object, ...]] = [
        (
            i,
            f"{r.requests_per_s:,.0f}",
            f"{p.requests_per_s:,.0f}",
            f"{q.requests_per_s:,.0f}",
            f"{p.requests_per_s / r.requests_per_s:.2f}",
            f"{q.requests_per_s / r.requests_per_s:.2f}",
            f"{r.latency_avg_ms:.2f} / {p.latency_avg_ms:.2f} / {q.latency_avg_ms:.2f}",
            f"{r.server_cpu:.0f}% / {p.server_cpu:.0f}% / {q.server_cpu:.0f}%",
            f"{r.server_us:.1f} / {p.server_us:.1f} / {q.server_us:.1f}",
            sum(x.non_2xx + x.socket_errors for x in (r, p, q)),
        )
        for i, (r, p, q) in enumerate(rounds, start=1)
    ]
    rows.append(
        (
            "**median**",
            f"**{median_rps(raw):,.0f}**",
            f"**{median_rps(real):,.0f}**",
            f"**{median_rps(route):,.0f}**",
            f"**{ratio:.2f}**",
            f"{route_ratio:.2f}",
            "",
            "",
            f"{median_us(raw):.1f} / {median_us(real):.1f} / {median_us(route):.1f}",
            failures,
        )
    )
    header = [
        "round",
        "raw req/s",
        "pitstop req/s",
        "route req/s",
        "pitstop/raw",
        "route/raw",
        "avg latency ms raw / pitstop / route",
        "server CPU raw / pitstop / route",
        "server CPU µs/req raw / pitstop / route",
        "non-2xx + socket errors",
    ]
    markdown = f"""## vehicle_data vs raw ASGI

What: requests/s of `GET /api/1/vehicles/{{VIN}}/vehicle_data` (**pitstop**: the real app, i.e.
the gate, then the fast path of `pitstop/fleet/fast.py`: a token the token cache vouches for,
the in-memory registry, the route's cached encoded body) against `GET /raw` (**raw**: a bare ASGI
answer with the same {payload}-byte body and content type) and against the same read with
`?endpoints=` naming every section (**route**: the same bytes, through Starlette's router and the
route, as any read with a query string), served by the same single uvicorn worker (uvloop,
httptools) in the same run, alternating. A simulated parked car is on the WebSocket link
throughout ({car_connections} connection). Load: wrk, 1 thread, {args.connections} connections,
closed loop, {args.duration} s per run after a 2 s warm-up of each. Goal (issue): pitstop/raw ≥ {GOAL}.

- Command: `{command}`
- Date: {today()}
- Machine: {machine()}; wrk and the server share the 2 cores

{table(header, rows)}

Result: pitstop/raw **{ratio:.2f}**, {verdict} the goal of {GOAL} (through the route:
{route_ratio:.2f}). Server CPU per request, raw over pitstop (less sensitive to other load on the
machine than req/s): **{cost_ratio:.2f}**.
"""
    if profile_text:
        markdown += f"\n### Profile of the server during a Pitstop run (py-spy)\n\n{profile_text}\n"
    update_results("vehicle_data", markdown)
    print(f"written to {Path('bench/RESULTS.md')}")
    if failures:
        print("FAILED: some answers were not 2xx", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--rounds", type=int, default=3, help="raw/pitstop/route rounds (default 3)"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--profile", action="store_true", help="py-spy one more Pitstop run")
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
