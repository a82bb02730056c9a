"""Receivers for bench/announce.py, each in processes of its own: a minimal SMTP sink and a
minimal webhook (HTTP/1.1) receiver that count what they accept, plus raw "blasters" that
measure a receiver alone (so a figure is about Pitstop, not the receiver).

Both receivers are asyncio protocols on uvloop that parse just enough of their protocol:

- SMTP: greeting, EHLO (announcing PIPELINING), MAIL, RCPT, DATA with the dot-terminated
  body, RSET, NOOP, QUIT; everything answered in order, so pipelined clients work. A message
  counts when its final "." is read, as a real MTA queues it.
- HTTP: requests with Content-Length (keep-alive), each answered `200` with an empty body.
  A request counts when its whole body is read; webhook signature headers must be present.

Counters live in shared memory (one `Counter` per process): messages, bytes, the wall-clock
time of the first and the last message. Processes share one port through SO_REUSEPORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import RawArray
from typing import Any

HOST = "127.0.0.1"
_CTX = mp.get_context("spawn")

# slots of a counter array
COUNT, BYTES, FIRST, LAST, BAD = range(5)


def new_counter() -> Any:
    return RawArray("d", 5)


def reuseport_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def _tick(counter: Any, size: int) -> None:
    now = time.time()
    if counter[COUNT] == 0:
        counter[FIRST] = now
    counter[COUNT] += 1
    counter[BYTES] += size
    counter[LAST] = now


# --- SMTP ---------------------------------------------------------------------------------------

_EHLO = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"


class SmtpSink(asyncio.Protocol):
    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.buffer = bytearray()
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(b"220 sink ESMTP\r\n")  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        out: list[bytes] = []
        pos = 0
        while True:
            if self.in_data:
                end = buf.find(b"\r\n.\r\n", max(pos - 2, 0))
                if end < 0:
                    break
                _tick(self.counter, end - pos)
                out.append(b"250 2.0.0 queued\r\n")
                pos = end + 5
                self.in_data = False
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            verb = bytes(buf[pos : pos + 4]).upper()
            pos = end + 2
            if verb in (b"EHLO", b"HELO"):
                out.append(_EHLO)
            elif verb == b"DATA":
                out.append(b"354 go ahead\r\n")
                self.in_data = True
                # a body may be empty: its "." line follows at once
                if buf[pos : pos + 3] == b".\r\n":
                    _tick(self.counter, 0)
                    out.append(b"250 2.0.0 queued\r\n")
                    pos += 3
                    self.in_data = False
            elif verb == b"QUIT":
                out.append(b"221 bye\r\n")
                assert self.transport is not None
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            else:  # MAIL, RCPT, RSET, NOOP and anything else
                out.append(b"250 ok\r\n")
        del buf[:pos]
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


# --- HTTP ---------------------------------------------------------------------------------------

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class WebhookSink(asyncio.Protocol):
    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        answers = 0
        pos = 0
        while True:
            head_end = buf.find(b"\r\n\r\n", pos)
            if head_end < 0:
                break
            head = bytes(buf[pos:head_end]).lower()
            i = head.find(b"content-length:")
            length = (
                int(head[i + 15 : head.find(b"\r\n", i) if b"\r\n" in head[i:] else None])
                if i >= 0
                else 0
            )
            if len(buf) < head_end + 4 + length:
                break
            if b"webhook-signature: v1," not in head or b"webhook-id:" not in head:
                self.counter[BAD] += 1
            _tick(self.counter, length)
            answers += 1
            pos = head_end + 4 + length
        del buf[:pos]
        if answers and self.transport is not None:
            self.transport.write(_OK * answers)


# --- processes ----------------------------------------------------------------------------------


def _serve(kind: str, port: int, counter: Any, ready: Any) -> None:
    import uvloop

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        protocol = SmtpSink if kind == "smtp" else WebhookSink
        server = await loop.create_server(
            lambda: protocol(counter), sock=reuseport_socket(port), backlog=4096
        )
        ready.set()
        async with server:
            await server.serve_forever()

    uvloop.run(main())


@dataclass
class Receivers:
    kind: str
    port: int
    processes: list[Any]
    counters: list[Any]

    def total(self, slot: int = COUNT) -> float:
        return float(sum(c[slot] for c in self.counters))

    def first(self) -> float:
        return min((c[FIRST] for c in self.counters if c[COUNT]), default=0.0)

    def last(self) -> float:
        return max((c[LAST] for c in self.counters if c[COUNT]), default=0.0)

    def reset(self) -> None:
        for c in self.counters:
            for i in range(len(c)):
                c[i] = 0

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)


def start_receivers(kind: str, processes: int, port: int) -> Receivers:
    """`processes` receivers of `kind` ("smtp" or "http") sharing `port`."""
    counters = [new_counter() for _ in range(processes)]
    procs = []
    for counter in counters:
        ready = _CTX.Event()
        p = _CTX.Process(target=_serve, args=(kind, port, counter, ready), daemon=True)
        p.start()
        if not ready.wait(20):
            raise RuntimeError(f"the {kind} receiver did not start")
        procs.append(p)
    return Receivers(kind, port, procs, counters)


# --- measuring a receiver alone -----------------------------------------------------------------


def smtp_script(mail: bytes, count: int) -> bytes:
    """`count` pipelined transactions of `mail` (already dot-stuffed, CRLF, ending in CRLF)."""
    one = (
        b"MAIL FROM:<pitstop@localhost>\r\nRCPT TO:<someone@bench.example>\r\nDATA\r\n"
        + mail
        + b".\r\n"
    )
    return b"EHLO blaster\r\n" + one * count + b"QUIT\r\n"


def http_script(body: bytes, count: int) -> bytes:
    one = (
        b"POST /hook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"webhook-id: k\r\nwebhook-timestamp: 1\r\nwebhook-signature: v1,xyz\r\n"
        b"content-length: %d\r\n\r\n" % len(body)
    ) + body
    return one * count


def _blast(
    port: int, script: bytes, expected_answers: bytes, count: int, out: Any, ready: Any, go: Any
) -> None:
    """Send `script` on one connection (once `go` is set) while reading the answers until
    `count` of them contain `expected_answers`; writes the seconds it took into out[0]."""
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ready.set()
    go.wait(60)
    t0 = time.perf_counter()
    import threading

    def send() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(script)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    seen = 0
    tail = b""
    while seen < count:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data = tail + chunk
        seen += data.count(expected_answers)
        tail = data[-(len(expected_answers) - 1) :]
    out[0] = time.perf_counter() - t0
    out[1] = seen
    sock.close()


def blast(kind: str, port: int, payload: bytes, count: int, connections: int) -> tuple[float, int]:
    """Measure the receivers on `port` alone: `count` messages of `payload` over
    `connections` connections from as many processes; (seconds, messages answered)."""
    per = count // connections
    if kind == "smtp":
        script, answer = smtp_script(payload, per), b"250 2.0.0 queued"
    else:
        script, answer = http_script(payload, per), b"HTTP/1.1 200 OK"
    outs = [RawArray("d", 2) for _ in range(connections)]
    readies = [_CTX.Event() for _ in range(connections)]
    go = _CTX.Event()
    procs = [
        _CTX.Process(target=_blast, args=(port, script, answer, per, out, r, go), daemon=True)
        for out, r in zip(outs, readies, strict=True)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(60)
    t0 = time.perf_counter()
    go.set()
    for p in procs:
        p.join(300)
    elapsed = time.perf_counter() - t0
    del t0
    return max(elapsed, max(o[0] for o in outs)), int(sum(o[1] for o in outs))


def pids_cpu(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) used so far by `pids`."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total
