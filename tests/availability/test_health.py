"""Liveness and readiness answer without a token and are never cached."""

from __future__ import annotations

from tests.world import World


async def test_healthz_and_readyz(world: World) -> None:
    async with world.client() as http:
        live = await http.get("/healthz")
        ready = await http.get("/readyz")
        world.app.state.draining = True
        draining = await http.get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.headers["cache-control"] == "no-store"
    assert draining.status_code == 503 and draining.json() == {"status": "draining"}


async def test_unknown_paths_and_methods_answer_in_the_envelope(world: World) -> None:
    async with world.client() as http:
        missing = await http.get("/api/1/nothing-here")
        method = await http.delete("/api/1/products")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert method.status_code == 405 and method.json()["error"] == "invalid_method"
    assert missing.headers["content-type"] == "application/json"
