"""Where the server may send owners' webhooks: anywhere, or only to public addresses.

A self-hosted Pitstop usually posts webhooks into its own network (Home Assistant on the
LAN), so that is allowed by default. A server shared by owners who are not trusted with its
network sets `PITSTOP_WEBHOOK_ALLOW_PRIVATE=false`: then a webhook URL whose host is, or
resolves to, a loopback, private, link-local, shared, multicast or reserved address is
refused when it is registered and again before each delivery (a name may resolve elsewhere
later).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


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


async def check_public(url: str) -> None:
    """Raise `PrivateDestination` if `url` leads into a network; `OSError` if it does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in await addresses(host, port):
        if _private(address):
            raise PrivateDestination(
                f"{host} is a private address ({address}); this server sends webhooks "
                "to public addresses only"
                if host.strip("[]") == address
                else f"{host} resolves to a private address ({address}); this server sends "
                "webhooks to public addresses only"
            )
