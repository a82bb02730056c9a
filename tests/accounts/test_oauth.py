"""Signing in: the token endpoint's grants, PKCE, refresh rotation, revocation and expiry."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from pitstop.app import create_app
from pitstop.clock import ManualClock
from pitstop.settings import Settings
from tests.world import World


async def test_password_grant_for_the_cli_returns_tesla_shaped_tokens(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with world.client() as http:
        r = await http.post(
            "/oauth2/v3/token",
            data={
                "grant_type": "password",
                "client_id": "pitstop-cli",
                "username": "ADA@example.com",
                "password": owner.password,
            },
        )
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"access_token", "refresh_token", "expires_in", "id_token", "token_type"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 8 * 3600
    assert "vehicle_cmds" in body["scope"].split()
    async with world.client(body["access_token"]) as http:
        me = (await http.get("/api/1/users/me")).json()
    assert me["response"]["email"] == "ada@example.com"


async def test_wrong_password_is_refused_with_a_sentence(world: World) -> None:
    await world.account("ada@example.com")
    async with world.client() as http:
        r = await http.post(
            "/oauth2/v3/token",
            data={
                "grant_type": "password",
                "client_id": "pitstop-cli",
                "username": "ada@example.com",
                "password": "nope-nope",
            },
        )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_grant"
    assert "wrong" in r.json()["error_description"]


async def test_third_party_clients_cannot_use_the_password_grant(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with world.client() as http:
        r = await http.post(
            "/oauth2/v3/token",
            data={
                "grant_type": "password",
                "client_id": "some-app",
                "username": "ada@example.com",
                "password": owner.password,
            },
        )
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


async def test_unknown_grant_type_and_missing_parameters(world: World) -> None:
    async with world.client() as http:
        r1 = await http.post("/oauth2/v3/token", data={"grant_type": "magic"})
        r2 = await http.post("/oauth2/v3/token", data={"grant_type": "refresh_token"})
    assert r1.status_code == 400 and r1.json()["error"] == "unsupported_grant_type"
    assert r2.status_code == 400 and "refresh_token" in r2.json()["error_description"]


async def test_refresh_rotates_and_the_old_refresh_token_stops_working(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with world.client() as http:
        first = (
            await http.post(
                "/oauth2/v3/token",
                data={
                    "grant_type": "password",
                    "client_id": "pitstop-cli",
                    "username": "ada@example.com",
                    "password": owner.password,
                },
            )
        ).json()
        second = await http.post(
            "/oauth2/v3/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        )
        again = await http.post(
            "/oauth2/v3/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        )
    assert second.status_code == 200
    assert second.json()["access_token"] != first["access_token"]
    assert again.status_code == 401 and again.json()["error"] == "invalid_grant"


def _pkce() -> tuple[str, str]:
    verifier = "v" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


async def test_authorization_code_with_pkce_through_the_sign_in_page(world: World) -> None:
    owner = await world.account("ada@example.com")
    verifier, challenge = _pkce()
    params = {
        "client_id": "my-app",
        "redirect_uri": "http://localhost:8123/cb",
        "response_type": "code",
        "scope": "openid offline_access vehicle_device_data",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with world.client() as http:
        page = await http.get("/oauth2/v3/authorize", params=params)
        assert page.status_code == 200 and "Sign in to Pitstop" in page.text
        assert 'name="password"' in page.text and "my-app" in page.text
        bad = await http.post(
            "/oauth2/v3/authorize",
            params=params,
            data={"email": "ada@example.com", "password": "wrong-password"},
        )
        assert bad.status_code == 401 and "wrong" in bad.text
        signed_in = await http.post(
            "/oauth2/v3/authorize",
            params=params,
            data={"email": "ada@example.com", "password": owner.password},
        )
        assert signed_in.status_code == 303
        location = urlsplit(signed_in.headers["location"])
        query = parse_qs(location.query)
        assert location.netloc == "localhost:8123" and query["state"] == ["xyz"]
        code = query["code"][0]
        wrong = await http.post(
            "/oauth2/v3/token",
            data={
                "grant_type": "authorization_code",
                "client_id": "my-app",
                "code": code,
                "redirect_uri": "http://localhost:8123/cb",
                "code_verifier": "w" * 64,
            },
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        # A code is single-use: the failed try above used it up.
        retry = await http.post(
            "/oauth2/v3/token",
            data={
                "grant_type": "authorization_code",
                "client_id": "my-app",
                "code": code,
                "redirect_uri": "http://localhost:8123/cb",
                "code_verifier": verifier,
            },
        )
        assert retry.status_code == 400


async def test_pkce_exchange_grants_only_the_requested_scopes(world: World) -> None:
    owner = await world.account("ada@example.com")
    verifier, challenge = _pkce()
    params = {
        "client_id": "my-app",
        "redirect_uri": "http://localhost/cb",
        "scope": "openid vehicle_device_data",
        "code_challenge": challenge,
    }
    async with world.client() as http:
        r = await http.post(
            "/oauth2/v3/authorize",
            params=params,
            data={"email": "ada@example.com", "password": owner.password},
        )
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        token = (
            await http.post(
                "/oauth2/v3/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": "my-app",
                    "code": code,
                    "redirect_uri": "http://localhost/cb",
                    "code_verifier": verifier,
                },
            )
        ).json()
    assert token["scope"] == "openid vehicle_device_data"
    assert token["refresh_token"] is None  # no offline_access asked
    async with world.client(token["access_token"]) as http:
        r = await http.post("/api/1/vehicles/1/command/door_unlock")
    assert r.status_code == 403 and r.json()["missing_scopes"] == ["vehicle_cmds"]


async def test_sign_in_page_refuses_unsafe_redirects_and_missing_pkce(world: World) -> None:
    async with world.client() as http:
        r1 = await http.get(
            "/oauth2/v3/authorize",
            params={
                "client_id": "x",
                "redirect_uri": "http://evil.example/cb",
                "code_challenge": "abc",
            },
        )
        r2 = await http.get(
            "/oauth2/v3/authorize", params={"client_id": "x", "redirect_uri": "http://localhost/cb"}
        )
    assert r1.status_code == 400 and "redirect_uri" in r1.text
    assert r2.status_code == 400 and "PKCE" in r2.text


async def test_missing_and_invalid_tokens_get_401(world: World) -> None:
    async with world.client() as http:
        r1 = await http.get("/api/1/products")
    async with world.client("not-a-token") as http:
        r2 = await http.get("/api/1/products")
    assert r1.status_code == 401 and r1.json()["error"] == "missing_token"
    assert r2.status_code == 401 and r2.json()["error"] == "invalid_token"
    assert r1.headers["content-type"] == "application/json"


async def test_operator_creates_and_revokes_a_token(world: World) -> None:
    operator = await world.account("ops@example.com", role="operator")
    await world.account("ada@example.com")
    async with world.client(operator.token) as ops:
        created = (
            await ops.post("/api/1/tokens", json={"email": "ada@example.com", "label": "ha"})
        ).json()["response"]
        async with world.client(created["access_token"]) as ada:
            assert (await ada.get("/api/1/products")).status_code == 200
            listed = (await ops.get("/api/1/tokens")).json()["response"]
            assert any(t["id"] == created["id"] and t["label"] == "ha" for t in listed)
            revoked = await ops.delete(f"/api/1/tokens/{created['id']}")
            assert revoked.status_code == 200
            after = await ada.get("/api/1/products")
            assert after.status_code == 401 and after.json()["error"] == "invalid_token"
        again = await ops.delete(f"/api/1/tokens/{created['id']}")
        assert again.status_code == 404


async def test_owners_cannot_use_operator_endpoints(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with world.client(owner.token) as http:
        r = await http.post("/api/1/tokens", json={"email": "ada@example.com"})
    assert r.status_code == 403 and r.json()["missing_scopes"] == ["operator"]


async def test_user_endpoints(world: World) -> None:
    owner = await world.account("ada@example.com")
    async with world.client(owner.token) as http:
        orders = (await http.get("/api/1/users/orders")).json()
        region = (await http.get("/api/1/users/region")).json()
    assert orders == {"response": [], "error": None, "count": 0}
    assert region["response"]["fleet_api_base_url"] == world.url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_access_token_expires_when_the_clock_says_so(settings: Settings) -> None:
    clock = ManualClock()
    app = create_app(settings, clock=clock)
    async with World.running(app, clock) as world:
        owner = await world.account("ada@example.com")
        async with world.client(owner.token) as http:
            assert (await http.get("/api/1/products")).status_code == 200
            await clock.advance(8 * 3600 + 1)
            r = await http.get("/api/1/products")
    assert r.status_code == 401 and r.json()["error"] == "token_expired"
    assert re.search("refresh|sign in", r.json()["error_description"])
