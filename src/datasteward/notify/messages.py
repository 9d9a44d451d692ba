"""What the engine tells people and recipients, as plain values.

A :class:`Message` says who hears what through which channel; the words
live in templates (``templates/<language>/``) and are filled in when the
message enters the outbox. Builders here take plain values (the policy, a
request id, a due date) and return a Message whose ``context`` is JSON-safe,
so it can be stored, rendered and signed the same way on every run.

Pure: no I/O beyond knowing which template languages ship with the package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any

from datasteward.errors import InvalidInput
from datasteward.policy.model import Policy, Recipient

__all__ = [
    "Channel",
    "Message",
    "MessageKind",
    "acknowledgment",
    "authority_facts",
    "completion",
    "controller_facts",
    "extension",
    "fee",
    "message_language",
    "message_languages",
    "more_information",
    "objection_decision",
    "recipient_list",
    "refusal",
    "restriction_lift",
    "verification_code",
]


class Channel(StrEnum):
    """How a message travels: by email, as a signed webhook, or by a person."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    MANUAL = "manual"


class MessageKind(StrEnum):
    """Each kind has a template pair (``<kind>.txt.j2``, ``<kind>.html.j2``)."""

    ACKNOWLEDGMENT = "acknowledgment"
    VERIFICATION_CODE = "verification_code"
    MORE_INFORMATION = "more_information"
    EXTENSION = "extension"
    REFUSAL = "refusal"
    FEE = "fee"
    COMPLETION = "completion"
    RESTRICTION_LIFT = "restriction_lift"
    OBJECTION_DECISION = "objection_decision"
    RECIPIENT_LIST = "recipient_list"
    RECIPIENT_NOTICE = "recipient_notice"


@dataclass(frozen=True)
class Message:
    """One message to send.

    ``to`` is an email address (email), the *name of the environment
    variable* holding the URL (webhook: resolved when sending, so a changed
    URL reaches messages already queued) or who acts (manual). ``context``
    must be JSON-safe; the constructor checks it and keeps its JSON form."""

    channel: Channel
    kind: MessageKind
    to: str
    context: Mapping[str, Any] = field(default_factory=dict)
    language: str = "en"

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "kind", MessageKind(self.kind))
        if not self.to.strip():
            raise InvalidInput(f"a {self.kind.value} message needs an addressee")
        try:
            text = json.dumps(dict(self.context), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"message context is not JSON-safe: {exc}") from None
        # Stored as its JSON round trip (tuples become lists), so what is
        # rendered now is exactly what a later reader would see.
        object.__setattr__(self, "context", json.loads(text))


# -- languages ---------------------------------------------------------------


@cache
def message_languages() -> tuple[str, ...]:
    """Languages with a template set shipped in ``notify/templates/``."""
    root = files("datasteward.notify").joinpath("templates")
    return tuple(
        sorted(e.name for e in root.iterdir() if e.is_dir() and e.joinpath("_words.j2").is_file())
    )


def message_language(policy: Policy, requested: str | None) -> str:
    """``requested`` when templates exist for it, else the controller's first
    language that has templates, else English."""
    available = message_languages()
    candidates = [requested] if requested else []
    candidates += policy.controller.languages
    for candidate in candidates:
        code = candidate.strip().lower().split("-", 1)[0]
        if code in available:
            return code
    return "en"


# -- facts every message carries -----------------------------------------------


def controller_facts(policy: Policy) -> dict[str, Any]:
    """Who is writing: name, contact, DPO and time zone for dates."""
    c = policy.controller
    dpo = (
        {"name": c.dpo.name, "email": c.dpo.email, "address": c.dpo.address}
        if c.dpo is not None
        else None
    )
    return {
        "name": policy.display_name,
        "legal_name": c.legal_name,
        "email": c.contact_email or (c.dpo.email if c.dpo else None),
        "phone": c.contact_phone,
        "website": c.website,
        "address": c.office_address or c.registered_address,
        "dpo": dpo,
        "time_zone": c.time_zone,
    }


def authority_facts(policy: Policy) -> dict[str, Any] | None:
    """The supervisory authority the controller names (Art. 77), if any."""
    authority = policy.controller.supervisory_authority
    if authority is None:
        return None
    return {"name": authority.name, "url": authority.url, "country": authority.country}


def _day(value: date) -> str:
    if isinstance(value, datetime):
        raise InvalidInput("expected a calendar date, got an instant")
    return value.isoformat()


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise InvalidInput("instants in messages must be timezone-aware")
    return value.isoformat()


def _message(
    policy: Policy,
    kind: MessageKind,
    *,
    to: str,
    request_id: str | None,
    language: str | None,
    channel: Channel,
    **context: Any,
) -> Message:
    return Message(
        channel=channel,
        kind=kind,
        to=to,
        context={
            "controller": controller_facts(policy),
            "request_id": request_id,
            **context,
        },
        language=message_language(policy, language),
    )


# -- messages to the data subject ------------------------------------------------


def acknowledgment(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    request_type: str,
    due_date: date,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """The request was received; the answer is due by ``due_date`` (Art. 12(3))."""
    return _message(
        policy,
        MessageKind.ACKNOWLEDGMENT,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        request_type=request_type,
        due_date=_day(due_date),
    )


def verification_code(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    code: str,
    expires_at: datetime,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """The one-time code that confirms the requester controls the address."""
    if not code.strip():
        raise InvalidInput("a verification code cannot be empty")
    return _message(
        policy,
        MessageKind.VERIFICATION_CODE,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        code=code,
        expires_at=_instant(expires_at),
    )


def more_information(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    question: str,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """A request for information needed to confirm the requester's identity
    (Art. 12(6)); the question is staff's own words."""
    if not question.strip():
        raise InvalidInput("say what information is needed")
    return _message(
        policy,
        MessageKind.MORE_INFORMATION,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        question=question.strip(),
    )


def extension(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    reasons: str,
    new_due_date: date,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """The period is extended; Art. 12(3) requires the reasons, within the first month."""
    if not reasons.strip():
        raise InvalidInput("an extension notice must give the reasons for the delay (Art. 12(3))")
    return _message(
        policy,
        MessageKind.EXTENSION,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        reasons=reasons.strip(),
        new_due_date=_day(new_due_date),
    )


def refusal(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    ground: str,
    reasons: str,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """No action will be taken: the reasons, the right to complain to a
    supervisory authority (named from the policy) and to a judicial remedy
    (Art. 12(4))."""
    if not reasons.strip():
        raise InvalidInput("a refusal must give its reasons (Art. 12(4))")
    return _message(
        policy,
        MessageKind.REFUSAL,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        ground=ground,
        reasons=reasons.strip(),
        authority=authority_facts(policy),
    )


def fee(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    amount: str,
    currency: str,
    reason: str,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """A reasonable fee is charged (Art. 12(5)(a), or further copies under
    Art. 15(3)); ``amount`` is text such as ``"15.00"`` so no float rounds it."""
    if not reason.strip():
        raise InvalidInput("a fee notice must say why a fee is charged")
    return _message(
        policy,
        MessageKind.FEE,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        amount=amount,
        currency=currency.upper(),
        reason=reason.strip(),
    )


def completion(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    request_type: str,
    download_url: str | None = None,
    expires_at: datetime | None = None,
    summary: str | None = None,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """The request is done; for access and portability, where to download the
    package and until when (the link expires)."""
    if (download_url is None) != (expires_at is None):
        raise InvalidInput("a download link needs its expiry, and an expiry needs a link")
    return _message(
        policy,
        MessageKind.COMPLETION,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        request_type=request_type,
        download_url=download_url,
        expires_at=_instant(expires_at) if expires_at is not None else None,
        summary=summary,
    )


def restriction_lift(
    policy: Policy,
    *,
    to: str,
    request_id: str | None,
    lift_on: date,
    reason: str,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """The restriction of processing will be lifted on ``lift_on``: the
    subject is told before it happens (Art. 18(3))."""
    return _message(
        policy,
        MessageKind.RESTRICTION_LIFT,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        lift_on=_day(lift_on),
        reason=reason.strip(),
    )


def objection_decision(
    policy: Policy,
    *,
    to: str,
    request_id: str,
    upheld: bool,
    purposes: Sequence[str],
    reasons: str | None = None,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """The outcome of an objection (Art. 21): processing for ``purposes``
    stops, or continues for compelling legitimate grounds given in
    ``reasons`` (then the subject hears of the authority and the courts).

    ``purposes`` are purpose ids, shown by their names in the policy; text
    that is no purpose id is shown as it is."""
    if not upheld and not (reasons or "").strip():
        raise InvalidInput(
            "continuing despite an objection needs the compelling legitimate grounds (Art. 21(1))"
        )
    names = []
    for purpose in purposes:  # a purpose id, or words where no id fits
        found = next((p for p in policy.purposes if p.id == purpose), None)
        names.append({"id": purpose, "name": found.name if found else purpose})
    return _message(
        policy,
        MessageKind.OBJECTION_DECISION,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        upheld=upheld,
        purposes=names,
        reasons=(reasons or "").strip() or None,
        authority=authority_facts(policy),
    )


def recipient_list(
    policy: Policy,
    *,
    to: str,
    recipients: Sequence[Recipient],
    request_id: str | None = None,
    channel: Channel = Channel.EMAIL,
    language: str | None = None,
) -> Message:
    """The recipients the subject's data was disclosed to, on request
    (Art. 19, last sentence)."""
    return _message(
        policy,
        MessageKind.RECIPIENT_LIST,
        to=to,
        request_id=request_id,
        language=language,
        channel=channel,
        recipients=[
            {
                "id": r.id,
                "name": r.name,
                "role": r.role.value,
                "country": r.country,
                "is_category": r.is_category,
            }
            for r in recipients
        ],
    )
