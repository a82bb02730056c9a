"""Content for one recipient: stored text as it is, or a template kind rendered for them.

A notification either carries its content (subject, text, optional HTML) or names a template
kind; a kind is three files in a template directory: `<kind>.subject.txt`, `<kind>.txt` and,
optionally, `<kind>.html`. They are rendered at delivery time with the notification's `data`
plus `recipient` (name, email, timezone) and `topic`, so times can be shown in each
recipient's own time zone (`{{ when | localtime }}`). Packages add their own directories.

A notification to 100,000 people mostly renders the same few texts: what a kind's templates
say depends only on the notification (topic, data) and the fields of the recipient they read
(usually just the time zone). So the renderer notes which fields a render read and keeps the
result for those values; the next recipient with the same values gets it without rendering.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import msgspec

from pitstop.notify.outcomes import Recipient

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class RenderError(ValueError):
    pass


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


class _Seen:
    """A recipient as templates see it: notes the fields they read (`read`); anything else
    done with it (printing it whole, comparing it) makes the result not reusable (`whole`)."""

    __slots__ = ("_recipient", "read", "whole")

    def __init__(self, recipient: Recipient) -> None:
        self._recipient = recipient
        self.read: set[str] = set()
        self.whole = False

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._recipient, name)
        self.read.add(name)
        return value

    def __str__(self) -> str:
        self.whole = True
        return str(self._recipient)

    def __repr__(self) -> str:
        self.whole = True
        return repr(self._recipient)

    def __eq__(self, other: object) -> bool:
        self.whole = True
        return self._recipient == other

    __hash__ = None  # type: ignore[assignment]


_CACHED = 4096


@jinja2.pass_context
def localtime(
    context: jinja2.runtime.Context,
    value: datetime | str,
    fmt: str = "%a %d %b %Y, %H:%M %Z",
    tz: str | None = None,
) -> str:
    """A datetime (or ISO string) in the recipient's time zone."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    recipient = context.get("recipient")
    zone = tz or (recipient.timezone if isinstance(recipient, Recipient | _Seen) else "UTC")
    return when.astimezone(_zone(zone)).strftime(fmt)


def environment(dirs: Iterable[Path] = ()) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*dirs, TEMPLATES]),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        # Templates ship with the code: no stat() of each file on every render.
        auto_reload=False,
    )
    env.filters["localtime"] = localtime
    return env


class Renderer:
    def __init__(self, dirs: Iterable[Path] = ()) -> None:
        self.env = environment(dirs)
        #: (kind, topic, data) -> the recipient fields its renders read (sorted); None: not
        #: reusable.
        self._reads: OrderedDict[tuple[str, str, bytes], tuple[str, ...] | None] = OrderedDict()
        #: The data object last encoded, and its encoding (kept: its id cannot be reused).
        self._last_data: tuple[dict[str, Any], bytes] | None = None
        #: (kind, topic, data, fields, values) -> the result for those values of those fields.
        self._done: OrderedDict[tuple[Any, ...], Rendered] = OrderedDict()

    def has_kind(self, kind: str) -> bool:
        try:
            self.env.get_template(f"{kind}.txt")
        except jinja2.TemplateNotFound:
            return False
        return True

    def render(
        self,
        *,
        topic: str,
        recipient: Recipient,
        subject: str,
        text: str,
        html: str | None,
        template: str | None,
        data: dict[str, Any],
    ) -> Rendered:
        if template is None:
            return Rendered(" ".join(subject.split()), text, html)
        try:
            base = (template, topic, self._encoded(data))
        except (TypeError, msgspec.EncodeError):
            return self._render(template, topic, recipient, data)
        reads = self._reads.get(base, ())
        if reads is None:  # a kind whose renders cannot be reused
            return self._render(template, topic, recipient, data)
        key = (*base, reads, _values(recipient, reads))
        done = self._done.get(key)
        if done is not None:
            self._done.move_to_end(key)
            return done
        seen = _Seen(recipient)
        out = self._render(template, topic, seen, data)
        if seen.whole:
            _remember(self._reads, base, None)
            return out
        reads = tuple(sorted({*reads, *seen.read}))
        _remember(self._reads, base, reads)
        _remember(self._done, (*base, reads, _values(recipient, reads)), out)
        return out

    def _encoded(self, data: dict[str, Any]) -> bytes:
        """`data` as JSON, once per data object (a batch's messages share their note's)."""
        last = self._last_data
        if last is not None and last[0] is data:
            return last[1]
        encoded = msgspec.json.encode(data)
        self._last_data = (data, encoded)
        return encoded

    def _render(
        self, template: str, topic: str, recipient: Recipient | _Seen, data: dict[str, Any]
    ) -> Rendered:
        context = {**data, "recipient": recipient, "topic": topic}
        try:
            subject_out = self.env.get_template(f"{template}.subject.txt").render(context)
            text_out = self.env.get_template(f"{template}.txt").render(context)
            try:
                html_tpl = self.env.get_template(f"{template}.html")
            except jinja2.TemplateNotFound:
                html_out = None
            else:
                html_out = html_tpl.render(context)
        except (jinja2.TemplateError, ValueError, TypeError, AttributeError) as exc:
            raise RenderError(f"template {template!r}: {type(exc).__name__}: {exc}") from exc
        return Rendered(" ".join(subject_out.split()), text_out.strip() + "\n", html_out)

    def page(self, name: str, **context: Any) -> str:
        """A whole template by file name (email layouts, small pages)."""
        return self.env.get_template(name).render(context)


def _values(recipient: Recipient, fields: tuple[str, ...]) -> tuple[Any, ...]:
    if len(fields) == 1:  # the usual case: the time zone
        return (getattr(recipient, fields[0]),)
    return tuple([getattr(recipient, name) for name in fields])


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHED:
        cache.popitem(last=False)
