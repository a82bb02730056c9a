"""A minimal MIME writer for notification mail: headers plus a multipart/alternative body.

The standard library's generator is general and slow (about 1 ms a mail, most of the email
channel's time at 100,000 mails); notification mail always has the same shape, so it is
written directly: both parts base64 (any text, lines short, nothing for SMTP to escape), CRLF
line ends, RFC 2047 encoded words only where a header holds non-ASCII text. Header values
are single lines: CR and LF are replaced, so no value can start a header of its own.
"""

from __future__ import annotations

import binascii
import random
from collections.abc import Iterable
from email.header import Header
from email.utils import formataddr

_random = random.Random()


def one_line(value: str) -> str:
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def encoded(value: str) -> str:
    """`value` as a header value: as is if ASCII, else RFC 2047 encoded words."""
    value = one_line(value)
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def address(name: str, email: str) -> str:
    return formataddr((one_line(name), one_line(email)), charset="utf-8")


def _base64(raw: bytes) -> bytes:
    """`raw` in base64, lines of 76 characters, each ending in CRLF (RFC 2045 6.8)."""
    encoded = binascii.b2a_base64(raw, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


def _part(subtype: str, content: str) -> bytes:
    body = _base64(content.encode()) if content else b""
    return (
        b'Content-Type: text/%s; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n%s" % (subtype.encode(), body)
    )


def compose(headers: Iterable[tuple[str, str]], text: str, html: str) -> bytes:
    """The whole mail. `headers` values must already be header-safe (see `encoded`)."""
    # Cannot occur in base64 ("_" is not in its alphabet) nor in the headers; random only so
    # that no two mails look alike. No system entropy needed (os.urandom is a syscall a mail).
    boundary = b"=_pitstop_%024x" % _random.getrandbits(96)
    head = "".join(f"{name}: {one_line(value)}\r\n" for name, value in headers).encode()
    return b"".join(
        [
            head,
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative; boundary="%s"\r\n\r\n' % boundary,
            b"--%s\r\n" % boundary,
            _part("plain", text),
            b"\r\n--%s\r\n" % boundary,
            _part("html", html),
            b"\r\n--%s--\r\n" % boundary,
        ]
    )
