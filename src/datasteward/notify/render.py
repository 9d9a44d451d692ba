"""Messages into words: subject, plain text and HTML from the templates of
the message's language, and the JSON body a webhook carries.

Rendering happens once, when a message enters the outbox, so a template
change never alters what a queued message says, and the webhook body (the
exact bytes that are signed) is the same on every retry.

Two Jinja2 environments per language: plain text without escaping, HTML with
autoescape on every template (``_words.j2`` included, since macros are
compiled with the escaping of the environment). Both are strict: an undefined
name is an error, never an empty phrase.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    UndefinedError,
    select_autoescape,
)

from datasteward.documents.templating import mail_url, web_url
from datasteward.errors import InvalidInput
from datasteward.legaltime.instants import format_time
from datasteward.notify.messages import Channel, Message, message_languages

__all__ = ["Rendered", "render", "webhook_body"]

_SPACE = re.compile(r"\s+")
_WORDS = "_words.j2"


@dataclass(frozen=True)
class Rendered:
    """What is stored (encrypted) in the outbox and handed to a sender."""

    subject: str
    text: str
    html: str
    body: str | None
    """The webhook's JSON document, exactly as sent and signed; None otherwise."""


def _as_date(value: str) -> date:
    return date.fromisoformat(value)


def _as_local(value: str, time_zone: str) -> datetime:
    moment = datetime.fromisoformat(value)
    try:
        return moment.astimezone(ZoneInfo(time_zone))
    except (ZoneInfoNotFoundError, ValueError):
        return moment


@cache
def _environment(language: str, *, html: bool) -> Environment:
    if language not in message_languages():
        raise InvalidInput(
            f"no message templates for language '{language}'; "
            f"available: {', '.join(message_languages())}"
        )
    env = Environment(
        loader=PackageLoader("datasteward.notify", f"templates/{language}"),
        # HTML: every template escapes, _words.j2 included (macros are compiled
        # with the escaping of their own file). Text: nothing escapes.
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=html, default=html
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["as_date"] = _as_date
    env.filters["as_local"] = _as_local
    env.filters["web_url"] = web_url
    env.filters["mail_url"] = mail_url
    return env


def _words(env: Environment) -> Any:
    """``_words.j2`` as a module (its dictionaries and macros), compiled with
    the environment's escaping; templates reach it as ``w``."""
    return env.get_template(_WORDS).module


def webhook_body(message: Message, *, message_id: str, created_at: datetime) -> str:
    """The JSON a webhook carries: the delivery id (also in the
    ``X-Steward-Delivery`` header), the event, when it was queued, and the
    message's context as data. Compact and key-sorted, so it is stable."""
    document = {
        "id": message_id,
        "event": message.kind.value,
        "created_at": format_time(created_at),
        "data": dict(message.context),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render(message: Message, *, message_id: str, created_at: datetime) -> Rendered:
    """Subject, text and HTML of ``message``; the webhook body for webhooks.

    A context that lacks what the templates need is an :class:`InvalidInput`
    naming the missing piece (never a half-rendered message)."""
    try:
        return _render(message, message_id=message_id, created_at=created_at)
    except UndefinedError as exc:
        raise InvalidInput(
            f"the {message.kind.value} message cannot be rendered: {exc.message}"
        ) from None


def _render(message: Message, *, message_id: str, created_at: datetime) -> Rendered:
    variables: dict[str, Any] = {
        **message.context,
        "message_id": message_id,
        "language": message.language,
    }
    name = message.kind.value
    text_env = _environment(message.language, html=False)
    text_template = text_env.get_template(f"{name}.txt.j2")
    subject_block = text_template.blocks.get("subject")
    if subject_block is None:
        raise InvalidInput(f"the template {name}.txt.j2 defines no subject block")
    text_vars = {**variables, "w": _words(text_env)}
    subject = "".join(subject_block(text_template.new_context(text_vars)))
    subject = _SPACE.sub(" ", subject).strip()  # one header line, whatever the input held
    text = text_template.render(text_vars)
    html_env = _environment(message.language, html=True)
    html = html_env.get_template(f"{name}.html.j2").render(
        {**variables, "w": _words(html_env), "subject": subject}
    )
    body = (
        webhook_body(message, message_id=message_id, created_at=created_at)
        if message.channel is Channel.WEBHOOK
        else None
    )
    return Rendered(subject=subject, text=text, html=html, body=body)
