"""Where the server may send owners' webhooks: anywhere, or only to public addresses.

A self-hosted Pitstop usually posts webhooks into its own network (Home Assistant on the
LAN), so that is allowed by default. A server shared by owners who are not trusted with its
network sets `PITSTOP_WEBHOOK_ALLOW_PRIVATE=false`: then a webhook or Web Push URL whose host
is, or resolves to, a loopback, private, link-local, shared, multicast or reserved address is
refused when it is registered and again before each delivery (a name may resolve elsewhere
later), and each delivery goes to the address that was checked (`pinned`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit


class PrivateDestination(ValueError):
    """The URL's host is, or resolves to, an address inside a network."""


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an address literal is itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in found})


class Pinned(NamedTuple):
    """A request to a checked destination, sent to the very address that was checked."""

    url: str  # the URL with the checked address in place of the name
    headers: dict[str, str]  # Host: the name, as the receiver expects it
    extensions: dict[str, Any]  # httpx's `sni_hostname`: TLS checks the name's certificate


Resolve = Callable[[str, int], Awaitable[list[str]]]


async def pinned(url: str, *, resolve: Resolve = addresses) -> Pinned:
    """`url` checked to lead to public addresses only, and bound to one of them.

    Raises `PrivateDestination` if the host is, or resolves to, an address inside a network;
    `OSError` if it does not resolve. Sending by name would resolve it a second time, and a
    name can answer a public address to the check and a private one to the connection (DNS
    rebinding); so the request goes to the address checked, with the name as Host and for TLS.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = await resolve(host, port)
    if not found:
        raise OSError(f"{host} does not resolve to any address")
    for address in found:
        if _private(address):
            raise PrivateDestination(
                f"{host} is a private address ({address}); this server sends notifications "
                "to public addresses only"
                if host.strip("[]") == address
                else f"{host} resolves to a private address ({address}); this server sends "
                "notifications to public addresses only"
            )
    if host.strip("[]") == found[0]:
        return Pinned(url, {}, {})
    shown = f"[{found[0]}]" if ":" in found[0] else found[0]
    netloc = shown if parts.port is None else f"{shown}:{parts.port}"
    name = parts.netloc.rpartition("@")[2]
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Pinned(urlunsplit(parts._replace(netloc=netloc)), {"host": name}, extensions)


async def check_public(url: str) -> None:
    """Raise `PrivateDestination` if `url` leads into a network; `OSError` if it does not resolve."""
    await pinned(url)
