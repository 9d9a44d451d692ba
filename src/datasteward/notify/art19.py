"""Art. 19: tell each recipient of the data about a rectification, erasure or
restriction, through the channel the policy declares for it.

Which recipients received which categories comes from the processing
activities: a recipient listed on an activity received that activity's data
categories (of that activity's data subjects). A recipient without a usable
channel is never skipped: it gets a manual message telling staff that no
channel is declared, so the gap is visible in the outbox until someone acts.

Pure: the webhook URL is not read here; the message names the environment
variable and the sender reads it when delivering.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from datasteward.errors import InvalidInput
from datasteward.notify.messages import (
    Channel,
    Message,
    MessageKind,
    controller_facts,
    message_language,
)
from datasteward.policy.model import Policy, Recipient
from datasteward.policy.references import did_you_mean

__all__ = ["Art19Action", "RecipientNotice", "recipients_of", "recipients_to_notify"]

MANUAL_TO = "staff"
"""Who acts on a manual message: the controller's own staff."""


class Art19Action(StrEnum):
    """The three changes Art. 19 requires recipients to hear of."""

    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"


@dataclass(frozen=True)
class RecipientNotice:
    """One recipient to tell, the categories it received, and the message."""

    recipient_id: str
    recipient_name: str
    categories: tuple[str, ...]
    message: Message
    channel_declared: bool
    """False when the policy gives no usable channel: ``message`` is then a
    manual message asking staff to reach the recipient some other way."""


def recipients_of(
    policy: Policy,
    *,
    categories: Collection[str] | None,
    subject_kinds: Collection[str] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Recipient id -> the categories (of ``categories``; None: all) it received,
    in the policy's order of recipients and categories.

    ``subject_kinds`` (data subject ids such as ``customer``) narrows the
    activities to those about that kind of person; None: every activity."""
    known = {c.id for c in policy.data_categories}
    if categories is not None:
        for category in categories:
            if category not in known:
                hint = did_you_mean(category, sorted(known))
                raise InvalidInput(f"unknown data category '{category}'{hint}")
    kinds = set(subject_kinds) if subject_kinds is not None else None
    if kinds is not None:
        declared = {s.id for s in policy.data_subjects}
        unknown = sorted(kinds - declared)
        if unknown:
            hint = did_you_mean(unknown[0], sorted(declared))
            raise InvalidInput(f"unknown data subject '{unknown[0]}'{hint}")
    wanted = set(categories) if categories is not None else known
    received: dict[str, set[str]] = {}
    for activity in policy.processing_activities:
        if kinds is not None and not kinds.intersection(activity.data_subjects):
            continue
        overlap = wanted.intersection(activity.data_categories)
        if not overlap:
            continue
        for recipient_id in activity.recipients:
            received.setdefault(recipient_id, set()).update(overlap)
    order = [c.id for c in policy.data_categories]
    return {
        r.id: tuple(c for c in order if c in received[r.id])
        for r in policy.recipients
        if r.id in received
    }


def recipients_to_notify(
    policy: Policy,
    *,
    categories: Collection[str] | None,
    action: str,
    subject_kinds: Collection[str] | None = None,
    identities: Mapping[str, str] | None = None,
    request_id: str | None = None,
    language: str | None = None,
) -> list[RecipientNotice]:
    """The recipients that received ``categories`` (None: every category of
    the subject) and the message each gets for ``action``.

    ``identities`` (kind -> canonical value, e.g. ``{"email": ...}``) is
    what lets the recipient find the person; it travels encrypted in the
    outbox and is never logged."""
    try:
        chosen = Art19Action(action)
    except ValueError:
        allowed = ", ".join(a.value for a in Art19Action)
        raise InvalidInput(f"Art. 19 covers {allowed}, not '{action}'") from None
    received = recipients_of(policy, categories=categories, subject_kinds=subject_kinds)
    notices = []
    for recipient_id, received_categories in received.items():
        recipient = policy.recipient(recipient_id)
        assert recipient is not None  # references are checked when the policy loads
        notices.append(
            _notice(
                policy,
                recipient,
                chosen,
                received_categories,
                identities=dict(identities or {}),
                request_id=request_id,
                language=message_language(policy, language),
            )
        )
    return notices


def _notice(
    policy: Policy,
    recipient: Recipient,
    action: Art19Action,
    categories: tuple[str, ...],
    *,
    identities: dict[str, str],
    request_id: str | None,
    language: str,
) -> RecipientNotice:
    channel, to, problem = _route(recipient)
    context: dict[str, Any] = {
        "controller": controller_facts(policy),
        "request_id": request_id,
        "action": action.value,
        "recipient": {"id": recipient.id, "name": recipient.name, "role": recipient.role.value},
        "categories": [{"id": c, "name": policy.category(c).name} for c in categories],
        "identities": identities,
        "instructions": recipient.notify.instructions if recipient.notify else None,
        "problem": problem,
        "manual": channel is Channel.MANUAL,
    }
    message = Message(
        channel=channel,
        kind=MessageKind.RECIPIENT_NOTICE,
        to=to,
        context=context,
        language=language,
    )
    return RecipientNotice(
        recipient_id=recipient.id,
        recipient_name=recipient.name,
        categories=categories,
        message=message,
        channel_declared=problem is None,
    )


def _route(recipient: Recipient) -> tuple[Channel, str, str | None]:
    """(channel, addressee, problem): a declared channel, or manual with why not."""
    notify = recipient.notify
    if notify is None:
        return Channel.MANUAL, MANUAL_TO, "no notification channel is declared for this recipient"
    kind = notify.kind.strip().lower()
    if kind == Channel.WEBHOOK:
        if notify.url_env:
            return Channel.WEBHOOK, notify.url_env, None
        return Channel.MANUAL, MANUAL_TO, "the webhook channel names no url_env variable"
    if kind == Channel.EMAIL:
        if notify.email:
            return Channel.EMAIL, str(notify.email), None
        return Channel.MANUAL, MANUAL_TO, "the email channel names no address"
    if kind == Channel.MANUAL:
        return Channel.MANUAL, MANUAL_TO, None
    return Channel.MANUAL, MANUAL_TO, f"unknown notification channel kind '{notify.kind}'"
