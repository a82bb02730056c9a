"""The server of `bench/gate_cost.py` and `bench/gate_503.py`: one process, one runtime, three
ways to answer, chosen per request by a tiny dispatcher whose cost is the same for all.

Run by the benchmarks as
    python -m uvicorn bench.gate_app:app --workers 1 --no-access-log --log-level warning
with PITSTOP_DATA_DIR and PITSTOP_SECRET_KEY set.

- `X-Bench-App: bare`: the real Pitstop app WITHOUT the gate (a plain Starlette where
  `create_app` builds a `GatedStarlette`): the same routes, route objects, exception handlers,
  middlewares, and the same runtime (database, token cache, registry, car states, maintenance
  state) as the gated app.
- no such header (or any other value): the real Pitstop app, as `create_app` builds it.
- `GET /raw`: a bare ASGI answer with the status, headers and body last PUT to
  `/_bench/raw` (a JSON object: status, headers as [name, value] pairs, body in base64), so a
  benchmark can give it the exact bytes of an answer of the real app.

The dispatcher reads the header (and the path) on every request whichever way it goes.
"""

from __future__ import annotations

import base64
import json

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from pitstop.app import create_app
from pitstop.availability.gate import Gate, GatedStarlette
from pitstop.settings import load_settings

gated = create_app(load_settings())
if not isinstance(gated, GatedStarlette) or gated.gate is None or gated.gate.cls is not Gate:
    raise SystemExit("bench/gate_app.py: create_app no longer puts the Gate in front")
if any(m.cls is Gate for m in gated.user_middleware):
    raise SystemExit("bench/gate_app.py: create_app installs a second Gate")
# Plain Starlette: the same stack as behind the gate (GatedStarlette.gate), without it.
bare = Starlette(
    routes=gated.router.routes,
    middleware=gated.user_middleware,
    exception_handlers=gated.exception_handlers,
)  # no lifespan of its own: the gated app's starts and stops the shared runtime
bare.state.runtime = gated.state.runtime
bare.state.draining = False

_start: Message = {"type": "http.response.start", "status": 500, "headers": []}
_body: Message = {"type": "http.response.body", "body": b"PUT the answer to /_bench/raw first"}


async def _set_raw(receive: Receive, send: Send) -> None:
    global _start, _body
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    spec = json.loads(b"".join(chunks))
    _start = {
        "type": "http.response.start",
        "status": int(spec["status"]),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in spec["headers"]],
    }
    _body = {"type": "http.response.body", "body": base64.b64decode(spec["body"])}
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        await gated(scope, receive, send)  # lifespan, the car's WebSocket
        return
    side = b""
    for name, value in scope["headers"]:
        if name == b"x-bench-app":
            side = value
            break
    path = scope["path"]
    if path == "/raw":
        await send(_start)
        await send(_body)
    elif path == "/_bench/raw" and scope["method"] == "PUT":
        await _set_raw(receive, send)
    elif side == b"bare":
        await bare(scope, receive, send)
    else:
        await gated(scope, receive, send)
