"""Shared by the benchmark scripts: a throwaway data dir with accounts, a server subprocess,
process figures from /proc, and bench/RESULTS.md sections."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from pitstop.app import build_runtime
from pitstop.clock import SystemClock
from pitstop.db import migrate
from pitstop.settings import Settings
from pitstop.sim.car import SimulatedCar
from pitstop.sim.fleet import CarCredential, build_model

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "RESULTS.md"
HOST = "127.0.0.1"
OWNER_EMAIL = "bench-owner@pitstop.example"
OPERATOR_EMAIL = "bench-operator@pitstop.example"
PASSWORD = "bench-password-not-secret"


# --- accounts and cars, written straight into the database before the server starts ----------


@dataclass
class Setup:
    data_dir: Path
    secret_key: str
    owner_token: str
    operator_token: str
    #: VIN -> link secret, for the cars registered here.
    cars: dict[str, str]
    #: Empty: SQLite in data_dir.
    database_url: str = ""


async def prepare(data_dir: Path, *, vins: Sequence[str] = (), database_url: str = "") -> Setup:
    """Migrate a fresh database (SQLite in `data_dir`, which must exist, unless `database_url`
    names another); create an owner (with `vins`) and an operator."""
    secret_key = secrets.token_urlsafe(48)
    settings = Settings(data_dir=data_dir, secret_key=secret_key, database_url=database_url)
    rt = build_runtime(settings, SystemClock())
    try:
        await migrate(rt.engine)
        owner = await rt.users.create(OWNER_EMAIL, PASSWORD, role="owner", full_name="Bench Owner")
        operator = await rt.users.create(
            OPERATOR_EMAIL, PASSWORD, role="operator", full_name="Bench Operator"
        )
        cars = {}
        for i, vin in enumerate(vins):
            _, secret = await rt.registry.register(
                owner_id=owner.id, vin=vin, display_name=f"Bench {i + 1}"
            )
            cars[vin] = secret
        owner_grant = await rt.tokens.issue(owner, client_id="bench", label="bench owner")
        operator_grant = await rt.tokens.issue(operator, client_id="bench", label="bench operator")
    finally:
        await rt.engine.dispose()
    return Setup(
        data_dir,
        secret_key,
        owner_grant.access_token,
        operator_grant.access_token,
        cars,
        database_url,
    )


def server_env(setup: Setup) -> dict[str, str]:
    """The environment of a server on `setup`'s data dir: SQLite there, whatever the caller has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITSTOP_")}
    env["PITSTOP_DATA_DIR"] = str(setup.data_dir)
    env["PITSTOP_SECRET_KEY"] = setup.secret_key
    if setup.database_url:
        env["PITSTOP_DATABASE_URL"] = setup.database_url
    return env


# --- processes --------------------------------------------------------------------------------


def raise_nofile(wanted: int = 65536) -> int:
    """Raise this process's (and its children's) open-files limit towards `wanted`; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def uvicorn_server(
    app: str, env: dict[str, str], *, factory: bool = False, log: Path | None = None
) -> Iterator[Server]:
    """One uvicorn worker serving `app` ("module:attr") on a free port; stopped on exit."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app,
        "--host", HOST, "--port", str(port), "--workers", "1",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if factory:
        command.append("--factory")
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
    server = Server(process, f"http://{HOST}:{port}", port)
    try:
        wait_healthy(server, timeout=60)
        yield server
    finally:
        stop_process(process)
        if log and not isinstance(out, int):
            out.close()


def wait_healthy(server: Server, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode} while starting")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:g} s")


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 15) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: only the process we started."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# --- figures from /proc -----------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    at: float  # monotonic seconds
    cpu_s: float  # user + system CPU seconds so far
    rss_mb: float


def sample(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    cpu_s = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    rss_mb = int(match.group(1)) / 1024 if match else float("nan")
    return ProcSample(time.monotonic(), cpu_s, rss_mb)


def cpu_percent(before: ProcSample, after: ProcSample) -> float:
    """CPU used between two samples, in % of one core."""
    return 100 * (after.cpu_s - before.cpu_s) / max(after.at - before.at, 1e-9)


def established(port: int) -> int:
    """Open TCP connections accepted on `port` (IPv4, this network namespace)."""
    wanted = f":{port:04X}"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1].endswith(wanted) and parts[3] == "01":  # local address, state ESTABLISHED
            count += 1
    return count


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}, Python {platform.python_version()}"


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- profiles (py-spy) ------------------------------------------------------------------------


def find_py_spy() -> str | None:
    """py-spy on PATH, in this venv, or from `uv tool install py-spy` (which `uv sync` keeps)."""
    candidates = [Path(sys.executable).parent / "py-spy", Path.home() / ".local/bin/py-spy"]
    found = shutil.which("py-spy") or next((str(p) for p in candidates if p.exists()), None)
    return found


def start_py_spy(
    py_spy: str, pid: int, output: Path, *, duration: float, rate: int = 100, by_line: bool = True
) -> subprocess.Popen[bytes]:
    """`py-spy record` of `pid` for `duration` seconds into `output` (collapsed stacks)."""
    command = [
        py_spy, "record", "--pid", str(pid), "--duration", str(round(duration)),
        "--rate", str(rate), "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    if not by_line:
        command.append("--function")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarize_profile(path: Path, *, note: str = "", top: int = 25) -> str:
    """Own and inclusive shares of the busy samples per function, from py-spy's collapsed stacks
    (idle samples, where the loop waits for the network, are not recorded)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if "asyncio/runners.py" not in stack:
            continue  # only the event loop's thread (aiosqlite's idle worker thread is not work)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "(no samples)"
    below_main = [(f, n) for f, n in inclusive.most_common() if n < 0.98 * total][:top]
    rows = [(f"{100 * n / total:.1f}%", f"{100 * own[f] / total:.1f}%", f"`{f}`") for f, n in
            below_main]  # fmt: skip
    own_rows = [(f"{100 * n / total:.1f}%", f"`{f}`") for f, n in own.most_common(top)]
    return (
        f"{total} busy samples of the event loop's thread{note}.\n\n"
        "Inclusive (time in the function and what it calls; frames above the event loop left out):\n\n"
        + table(["incl.", "own", "function"], rows)
        + "\n\nOwn time:\n\n"
        + table(["own", "function"], own_rows)
    )


def _short(frame: str) -> str:
    # "authenticate (pitstop/accounts/tokens.py:190)" with site-packages paths shortened
    frame = re.sub(r"\(/.*?/site-packages/", "(", frame)
    frame = re.sub(r"\(/.*?/src/", "(", frame)
    return re.sub(r"\(/.*?/lib/python3\.\d+/", "(stdlib/", frame)


# --- load (wrk) and a car on the link ------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    target: str
    requests_per_s: float
    latency_avg_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    server_cpu: float  # % of one core during the run

    @property
    def server_us(self) -> float:
        """Server CPU microseconds per request."""
        return self.server_cpu / 100 / self.requests_per_s * 1e6


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(target: str, output: str, server_cpu: float) -> WrkResult:
    def find(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, output, re.MULTILINE)

    rps = find(r"^Requests/sec:\s+([\d.]+)")
    total = find(r"^\s+(\d+) requests in")
    latency = find(r"^\s+Latency\s+([\d.]+)(us|ms|s)\b")
    non_2xx = find(r"Non-2xx or 3xx responses: (\d+)")
    errors = find(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    if rps is None or total is None or latency is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return WrkResult(
        target=target,
        requests_per_s=float(rps.group(1)),
        latency_avg_ms=float(latency.group(1)) * _UNITS[latency.group(2)],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        server_cpu=server_cpu,
    )


async def wrk(
    server: Server,
    target: str,
    url: str,
    token: str,
    *,
    duration: int,
    connections: int,
    headers: Sequence[str] = (),
) -> WrkResult:
    """One closed-loop wrk run (one thread) against `url`, with the server's CPU over the run."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
        "-H", f"Authorization: Bearer {token}",
    ]  # fmt: skip
    for header in headers:
        command += ["-H", header]
    command.append(url)
    before = sample(server.pid)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(duration + 30):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    after = sample(server.pid)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{out.decode()}")
    return parse_wrk(target, out.decode(), cpu_percent(before, after))


async def start_car(
    server: Server, vin: str, secret: str
) -> tuple[SimulatedCar, asyncio.Task[None]]:
    """A parked car on the link (its state barely changes, so the cached body is realistic)."""
    clock = SystemClock()
    model = build_model(
        CarCredential(vin=vin, secret=secret), "parked", now_clock=clock, rng=random.Random(1)
    )
    car = SimulatedCar(
        server_url=server.url, vin=vin, secret=secret, model=model, clock=clock, tick=1.0
    )
    task = asyncio.create_task(car.run(), name="bench-car")
    async with asyncio.timeout(20):
        await car.connected.wait()
        while car.unacked:  # noqa: ASYNC110 (until the server has stored what the car said)
            await asyncio.sleep(0.05)
    return car, task


# --- bench/RESULTS.md -------------------------------------------------------------------------

_HEADER = """# Benchmark results

The last figures of each script in `bench/`, with the command that produced them. Each section
is rewritten by its script on every run; rerun the command to refresh it.
"""


def update_results(name: str, markdown: str) -> None:
    """Put `markdown` as the section `name` of bench/RESULTS.md (replacing a previous one)."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else _HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
