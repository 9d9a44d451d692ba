"""The request workflow's notices, through the outbox: turns what
``requests`` says happened ("acknowledgment", "refusal", ...) into the
messages of :mod:`datasteward.notify.messages` and adds them to the outbox
in the caller's transaction (implements ``requests.ports.Notices``).

The person is written to at the email the request came with; a request made
with another identity (a phone, a customer id) gets a manual message for
staff instead, so no notice is silently dropped. Download links are built
here, from the package id and its expiry, and exist only inside the
encrypted outbox payload."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from datasteward.crypto import Keyring
from datasteward.legaltime.instants import parse_time
from datasteward.notify import messages
from datasteward.notify.art19 import recipients_of, recipients_to_notify
from datasteward.notify.messages import Channel, Message
from datasteward.notify.outbox import Outbox
from datasteward.packages.vault import download_token
from datasteward.policy.active import ActivePolicyCache
from datasteward.ports import EngineTx
from datasteward.requests.model import Request

__all__ = ["OutboxNotices"]


class OutboxNotices:
    """``requests.ports.Notices`` on the outbox."""

    def __init__(self, outbox: Outbox, keyring: Keyring, public_url: str) -> None:
        self.outbox = outbox
        self.keyring = keyring
        self.public_url = public_url.rstrip("/")
        self.policies = ActivePolicyCache()

    def to_subject(
        self, tx: EngineTx, request: Request, kind: str, context: Mapping[str, Any]
    ) -> None:
        policy = self.policies.get(tx).policy
        identity = request.details.get("identity") or {}
        if identity.get("kind") == "email":
            to, channel = str(identity["value"]), Channel.EMAIL
        else:
            to, channel = "staff", Channel.MANUAL
        common: dict[str, Any] = {"to": to, "channel": channel}
        rid = request.id
        message: Message
        if kind == "acknowledgment":
            message = messages.acknowledgment(
                policy,
                **common,
                request_id=rid,
                request_type=request.type.value,
                due_date=date.fromisoformat(str(context["due_date"])),
            )
        elif kind == "verification_code":
            message = messages.verification_code(
                policy,
                **common,
                request_id=rid,
                code=str(context["code"]),
                expires_at=parse_time(str(context["expires_at"])),
            )
        elif kind == "more_information":
            message = messages.more_information(
                policy, **common, request_id=rid, question=str(context["question"])
            )
        elif kind == "extension":
            message = messages.extension(
                policy,
                **common,
                request_id=rid,
                reasons=str(context["reasons"]),
                new_due_date=date.fromisoformat(str(context["new_due_date"])),
            )
        elif kind == "refusal":
            message = messages.refusal(
                policy,
                **common,
                request_id=rid,
                ground=str(context["ground"]),
                reasons=str(context["reasons"]),
            )
        elif kind == "fee":
            message = messages.fee(
                policy,
                **common,
                request_id=rid,
                amount=str(context["amount"]),
                currency=str(context["currency"]),
                reason=str(context["basis"]),
            )
        elif kind == "completion":
            url, expires = self._download(context)
            message = messages.completion(
                policy,
                **common,
                request_id=rid,
                request_type=request.type.value,
                download_url=url,
                expires_at=expires,
            )
        elif kind == "objection_decision":
            purpose = request.details.get("purpose")
            message = messages.objection_decision(
                policy,
                **common,
                request_id=rid,
                upheld=bool(context.get("upheld")),
                purposes=[str(purpose)] if purpose else ["direct marketing"],
                reasons=str(context.get("grounds") or "") or None,
            )
        elif kind == "restriction_lift":
            message = messages.restriction_lift(
                policy,
                **common,
                request_id=rid,
                lift_on=date.fromisoformat(str(context["lift_on"])),
                reason=str(context["reason"]),
            )
        elif kind == "recipient_list":
            received = recipients_of(policy, categories=None)
            message = messages.recipient_list(
                policy,
                **common,
                request_id=rid,
                recipients=[r for r in policy.recipients if r.id in received],
            )
        else:
            raise ValueError(f"unknown notice kind {kind!r}")
        self.outbox.add(tx, message, subject_id=request.subject_id, request_id=rid)

    def to_recipients(
        self,
        tx: EngineTx,
        request: Request,
        *,
        action: str,
        categories: Collection[str] | None,
    ) -> list[str]:
        policy = self.policies.get(tx).policy
        identity = request.details.get("identity") or {}
        identities = {str(identity["kind"]): str(identity["value"])} if identity else {}
        told: list[str] = []
        for notice in recipients_to_notify(
            policy,
            categories=categories,
            action=action,
            identities=identities,
            request_id=request.id,
        ):
            self.outbox.add(
                tx,
                notice.message,
                subject_id=request.subject_id,
                request_id=request.id,
                recipient_id=notice.recipient_id,
            )
            told.append(notice.recipient_id)
        return told

    def _download(self, context: Mapping[str, Any]) -> tuple[str | None, datetime | None]:
        package_id = context.get("package_id")
        if not package_id:
            return None, None
        expires = parse_time(str(context["expires_at"]))
        token = download_token(self.keyring, str(package_id), expires)
        return f"{self.public_url}/packages/{package_id}?token={token}", expires
