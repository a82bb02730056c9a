"""Content for one recipient: stored text as it is, or a template kind rendered for them.

A notification either carries its content (subject, text, optional HTML) or names a template
kind; a kind is three files in a template directory: `<kind>.subject.txt`, `<kind>.txt` and,
optionally, `<kind>.html`. They are rendered at delivery time with the notification's `data`
plus `recipient` (name, email, timezone) and `topic`, so times can be shown in each
recipient's own time zone (`{{ when | localtime }}`). Packages add their own directories.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

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
    zone = tz or (recipient.timezone if isinstance(recipient, Recipient) else "UTC")
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
