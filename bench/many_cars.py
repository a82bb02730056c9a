"""Many simulated cars on one server: do they all connect, and does telemetry keep flowing?

    .venv/bin/python -m bench.many_cars                 # 2,000 cars, 60 s measured
    .venv/bin/python -m bench.many_cars --cars 500 --window 30
    .venv/bin/python -m bench.many_cars --profile      # and py-spy the server and the sim

What it does: a fresh SQLite data dir with an operator and an owner (and their tokens); ONE
server process (`uvicorn pitstop.app:from_environment --factory`, one worker); then, in a
SEPARATE process, `pitstop sim --url URL --cars N --token OPERATOR_TOKEN --owner OWNER_EMAIL
--tick 1 --time-scale 1`, which registers the cars through POST /api/1/admin/vehicles and runs
them (a quarter each parked asleep, charging, driving, parked). Once every car holds its
WebSocket, it measures over a window: cars connected (TCP connections the server accepted, from
/proc/net/tcp), cars whose telemetry was stored during the window, telemetry rows stored per
second and how fresh each car's newest stored record is (from the SQLite file, read-only),
the server's and the sim's CPU and RSS (from /proc), and the latency of vehicle_data for a
driving car and of /healthz, probed every second under that load.

Every wait is bounded; the open-files limit is raised for both processes. Traffic stays on
127.0.0.1. The last figures go to the "many_cars" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench._common import (
    OWNER_EMAIL,
    REPO,
    ProcSample,
    Server,
    cpu_percent,
    established,
    find_py_spy,
    machine,
    prepare,
    raise_nofile,
    sample,
    server_env,
    start_py_spy,
    stop_process,
    summarize_profile,
    table,
    today,
    update_results,
    uvicorn_server,
)
from pitstop.sim.fleet import SITUATIONS, make_vin

PREFIX = "5YJ3SVX"
OUT = REPO / "bench" / "out"


# --- the database, read-only, beside the running server --------------------------------------


@contextlib.contextmanager
def read_only(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def scalar(db: Path, sql: str) -> int:
    with read_only(db) as conn:
        return int(conn.execute(sql).fetchone()[0] or 0)


@dataclass
class Snapshot:
    at: float  # monotonic
    wall: float  # epoch seconds
    telemetry_rows: int
    #: vehicle_id -> (highest stored seq, newest recorded_at as epoch seconds)
    newest: dict[int, tuple[int, float]]
    vehicle_states: int
    server: ProcSample
    sim: ProcSample
    connected: int


def _epoch(text: str) -> float:
    value = datetime.fromisoformat(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def snapshot(db: Path, server: Server, sim: subprocess.Popen[bytes]) -> Snapshot:
    with read_only(db) as conn:
        rows = conn.execute("SELECT count(*) FROM telemetry").fetchone()[0]
        newest = {
            vid: (seq, _epoch(ts))
            for vid, seq, ts in conn.execute(
                "SELECT vehicle_id, max(seq), max(recorded_at) FROM telemetry GROUP BY vehicle_id"
            )
        }
        states = conn.execute("SELECT count(*) FROM vehicle_states").fetchone()[0]
    return Snapshot(
        at=time.monotonic(),
        wall=time.time(),
        telemetry_rows=rows,
        newest=newest,
        vehicle_states=states,
        server=sample(server.pid),
        sim=sample(sim.pid),
        connected=established(server.port),
    )


# --- probes -----------------------------------------------------------------------------------


@dataclass
class Probes:
    statuses: list[int] = field(default_factory=list)
    vehicle_data_ms: list[float] = field(default_factory=list)
    healthz_ms: list[float] = field(default_factory=list)
    connected: list[int] = field(default_factory=list)

    def probe(self, http: httpx.Client, vin: str, port: int) -> None:
        start = time.perf_counter()
        try:
            status = http.get(f"/api/1/vehicles/{vin}/vehicle_data").status_code
        except httpx.HTTPError:
            status = 0
        self.vehicle_data_ms.append((time.perf_counter() - start) * 1000)
        self.statuses.append(status)
        start = time.perf_counter()
        with contextlib.suppress(httpx.HTTPError):
            http.get("/healthz")
            self.healthz_ms.append((time.perf_counter() - start) * 1000)
        self.connected.append(established(port))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the run ----------------------------------------------------------------------------------


def start_profiles(
    args: argparse.Namespace, server: Server, sim: subprocess.Popen[bytes]
) -> dict[str, tuple[Path, subprocess.Popen[bytes]]]:
    if not args.profile:
        return {}
    OUT.mkdir(exist_ok=True)
    spies = {}
    for name, pid in (("server", server.pid), ("sim", sim.pid)):
        path = OUT / f"many_cars.{name}.pyspy.txt"
        spies[name] = (
            path,
            start_py_spy(args.py_spy, pid, path, duration=args.window, by_line=False),
        )
    return spies


def finish_profiles(spies: dict[str, tuple[Path, subprocess.Popen[bytes]]]) -> str:
    text = []
    for name, (path, spy) in spies.items():
        try:
            spy.wait(30)
        finally:
            stop_process(spy, grace=5)
        summary = summarize_profile(path, note=" (py-spy at 100 Hz, by function)", top=20)
        text.append(f"### Profile of the {name} during the window\n\n{summary}\n")
        print(f"collapsed stacks of the {name}: {path}")
    return "\n".join(text)


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, sim: subprocess.Popen[bytes]
) -> float:
    """Poll `check()` every half second until true; returns the seconds it took."""
    start = time.monotonic()
    while not check():
        if sim.poll() is not None:
            raise RuntimeError(f"the sim exited with {sim.returncode} while waiting for {what}")
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(0.5)
    return time.monotonic() - start


def run(args: argparse.Namespace) -> int:
    nofile = raise_nofile(max(65536, 4 * args.cars))
    with tempfile.TemporaryDirectory(prefix="pitstop-many-cars-") as tmp:
        data_dir, sim_dir = Path(tmp) / "server", Path(tmp) / "sim"
        data_dir.mkdir()
        sim_dir.mkdir()
        setup = asyncio.run(prepare(data_dir))
        db = data_dir / "pitstop.db"
        server_log, sim_log = Path(tmp) / "server.log", Path(tmp) / "sim.log"
        with uvicorn_server(
            "pitstop.app:from_environment", server_env(setup), factory=True, log=server_log
        ) as server:
            sim_command = [
                str(Path(sys.executable).parent / "pitstop"), "sim",
                "--url", server.url, "--cars", str(args.cars),
                "--token", setup.operator_token, "--owner", OWNER_EMAIL,
                "--tick", "1", "--time-scale", "1", "--vin-prefix", PREFIX,
            ]  # fmt: skip
            sim_env = server_env(setup) | {"PITSTOP_DATA_DIR": str(sim_dir)}
            del sim_env["PITSTOP_SECRET_KEY"]
            with sim_log.open("wb") as log:
                sim = subprocess.Popen(sim_command, env=sim_env, stdout=log, stderr=log)
            try:
                return measure(args, server, sim, setup.owner_token, db, nofile)
            except BaseException:
                for name, path in (("server", server_log), ("sim", sim_log)):
                    print(f"--- {name} log (tail) ---", file=sys.stderr)
                    print("\n".join(path.read_text().splitlines()[-30:]), file=sys.stderr)
                raise
            finally:
                stop_process(sim)


def measure(
    args: argparse.Namespace,
    server: Server,
    sim: subprocess.Popen[bytes],
    owner_token: str,
    db: Path,
    nofile: int,
) -> int:
    n = args.cars
    print(f"server pid {server.pid} at {server.url}; sim pid {sim.pid}; {n} cars; nofile {nofile}")
    provisioning = wait_for(
        "registering the cars",
        lambda: scalar(db, "SELECT count(*) FROM vehicles") >= n,
        args.timeout,
        sim,
    )
    print(f"{n} cars registered in {provisioning:.1f} s ({n / provisioning:.0f}/s)")
    connecting = wait_for("connecting", lambda: established(server.port) >= n, args.timeout, sim)
    print(f"{n} cars connected {connecting:.1f} s later")
    time.sleep(args.warmup)
    # A driving car: its state changes every second, so vehicle_data re-encodes its body.
    driving = make_vin(SITUATIONS.index("driving") + 1, PREFIX)
    probes = Probes()
    # A new connection per probe: the only connections open when counting are the cars'.
    headers = {"Authorization": f"Bearer {owner_token}", "Connection": "close"}
    spies = start_profiles(args, server, sim)
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        before = snapshot(db, server, sim)
        deadline = before.at + args.window
        while time.monotonic() < deadline:
            tick = time.monotonic()
            probes.probe(http, driving, server.port)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        after = snapshot(db, server, sim)
    profiles = finish_profiles(spies)
    return report(args, before, after, probes, provisioning, connecting, driving, profiles)


def report(
    args: argparse.Namespace,
    before: Snapshot,
    after: Snapshot,
    probes: Probes,
    provisioning: float,
    connecting: float,
    driving: str,
    profiles: str,
) -> int:
    n = args.cars
    seconds = after.at - before.at
    streaming = [
        vid for vid, (seq, _) in after.newest.items() if seq > before.newest.get(vid, (0, 0.0))[0]
    ]
    # How old each streaming car's newest stored record is at the end: the pipeline's lag.
    lag = [after.wall - after.newest[vid][1] for vid in streaming]
    rows_per_s = (after.telemetry_rows - before.telemetry_rows) / seconds
    ok = sum(1 for s in probes.statuses if s == 200)
    expected_streaming = n - n // len(SITUATIONS)  # parked-asleep cars send nothing
    figures: list[tuple[str, str]] = [
        ("cars registered (via the sim, POST /api/1/admin/vehicles)", f"{n} in {provisioning:.1f} s"),
        ("all cars connected, after registration", f"{connecting:.1f} s"),
        ("cars connected (server TCP, min / end of window)", f"{min([*probes.connected, after.connected])} / {after.connected}"),
        ("cars with a stored state (vehicle_states rows)", f"{after.vehicle_states}"),
        (f"cars whose telemetry was stored during the window (of ~{expected_streaming} awake)", f"{len(streaming)}"),
        ("telemetry rows stored per second", f"{rows_per_s:,.0f}"),
        ("newest stored record's age per streaming car, p50 / p95 / max", f"{pct(lag, 0.5):.1f} / {pct(lag, 0.95):.1f} / {max(lag, default=float('nan')):.1f} s"),
        ("server CPU (% of one core) / RSS", f"{cpu_percent(before.server, after.server):.0f}% / {after.server.rss_mb:.0f} MB"),
        ("sim CPU (% of one core) / RSS", f"{cpu_percent(before.sim, after.sim):.0f}% / {after.sim.rss_mb:.0f} MB"),
        (f"vehicle_data of a driving car ({driving}): 200s / probes", f"{ok} / {len(probes.statuses)}"),
        ("vehicle_data latency p50 / p95 / max", f"{pct(probes.vehicle_data_ms, 0.5):.1f} / {pct(probes.vehicle_data_ms, 0.95):.1f} / {max(probes.vehicle_data_ms, default=float('nan')):.1f} ms"),
        ("/healthz latency p50 / p95 / max", f"{pct(probes.healthz_ms, 0.5):.1f} / {pct(probes.healthz_ms, 0.95):.1f} / {max(probes.healthz_ms, default=float('nan')):.1f} ms"),
    ]  # fmt: skip
    for name, value in figures:
        print(f"{name:72} {value}")
    command = ".venv/bin/python -m bench.many_cars " + shlex.join(sys.argv[1:])
    markdown = f"""## Many cars on one server

What: {n} simulated cars (`pitstop sim --cars {n} --tick 1 --time-scale 1`, a separate
process; a quarter each parked asleep, charging, driving, parked) registered through the operator
API and connected over WebSockets to ONE server process (uvicorn, one worker, SQLite in a temp
dir). Measured over {seconds:.0f} s after all were connected and {args.warmup:g} s of warm-up:
connections, telemetry stored, the server's and the sim's CPU and memory, and the latency of
vehicle_data and /healthz probed once a second.

- Command: `{command}`
- Date: {today()}
- Machine: {machine()}; the server and the sim share the 2 cores

{table(["figure", "value"], figures)}
"""
    if profiles:
        print(profiles)
        markdown += "\n" + profiles
    update_results("many_cars", markdown)
    print("written to bench/RESULTS.md")
    all_connected = min([*probes.connected, after.connected]) >= n
    if ok != len(probes.statuses) or not all_connected:
        print("FAILED: not every car stayed connected or vehicle_data failed", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cars", type=int, default=2000, help="simulated cars (default 2000)")
    parser.add_argument("--window", type=float, default=60, help="seconds measured (default 60)")
    parser.add_argument("--warmup", type=float, default=10, help="seconds before (default 10)")
    parser.add_argument("--profile", action="store_true", help="py-spy the server and the sim")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds allowed to register and to connect"
    )
    args = parser.parse_args()
    args.py_spy = find_py_spy()
    if args.profile and args.py_spy is None:
        parser.error("--profile needs py-spy: `uv tool install py-spy` (not a project dependency)")
    if not (1 <= args.cars <= 20000 and 5 <= args.window <= 600 and 0 <= args.warmup <= 120):
        parser.error("cars 1-20000, window 5-600 s, warmup 0-120 s")
    if not 10 <= args.timeout <= 1800:
        parser.error("timeout 10-1800 s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
