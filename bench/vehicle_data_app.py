"""The server of `bench/vehicle_data.py`: raw ASGI on `/raw`, the real Pitstop app everywhere else.

Run by the benchmark as
    python -m uvicorn bench.vehicle_data_app:app --workers 1 --no-access-log --log-level warning
with PITSTOP_DATA_DIR and PITSTOP_SECRET_KEY set. `/raw` answers, with no routing, auth or
encoding, the bytes last PUT to `/_bench/raw-body` (the benchmark puts there the exact body and
content type that Pitstop's vehicle_data returns), so both endpoints send the same payload from
the same process, event loop and HTTP server.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from pitstop.app import create_app
from pitstop.settings import load_settings

pitstop = create_app(load_settings())

_start: Message = {"type": "http.response.start", "status": 503, "headers": []}
_body: Message = {"type": "http.response.body", "body": b"PUT the body to /_bench/raw-body first"}


async def _set_raw(scope: Scope, receive: Receive, send: Send) -> None:
    global _start, _body
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    content_type = dict(scope["headers"]).get(b"content-type", b"application/json")
    _start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", content_type),
        ],
    }
    _body = {"type": "http.response.body", "body": body}
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        path = scope["path"]
        if path == "/raw":
            await send(_start)
            await send(_body)
            return
        if path == "/_bench/raw-body" and scope["method"] == "PUT":
            await _set_raw(scope, receive, send)
            return
    await pitstop(scope, receive, send)
