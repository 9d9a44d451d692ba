"""A subject's consent record, shaped after ISO/IEC TS 27560.

Sections follow the standard's structure: a *header* (which record, about
whom, when generated, under which policy), *processing* (each consent-based
purpose: what it covers and its current state), *parties* (controller and
recipients), and *events* (every consent event with its ledger position, so
an auditor can match them against the hash chain)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from datasteward.consent.decisions import Decision
from datasteward.consent.model import ConsentRecord
from datasteward.legaltime.instants import format_time
from datasteward.policy.model import Policy

__all__ = ["build_receipt"]

SCHEMA = "datasteward consent record 1 (after ISO/IEC TS 27560)"


def build_receipt(
    *,
    policy: Policy,
    policy_version: int,
    subject_id: str,
    identity_kinds: Sequence[str],
    records: Sequence[ConsentRecord],
    decisions: dict[str, Decision],
    generated_at: datetime,
) -> dict[str, object]:
    """The record as plain JSON-ready data; no identity values are included."""
    controller = policy.controller
    consent_purposes = [
        p for p in policy.purposes if any(b.value == "consent" for b in p.legal_bases)
    ]
    activities = policy.processing_activities
    processing = []
    for purpose in consent_purposes:
        serving = [a for a in activities if purpose.id in a.purposes]
        categories = sorted({c for a in serving for c in a.data_categories})
        recipients = sorted({r for a in serving for r in a.recipients})
        decision = decisions.get(purpose.id)
        processing.append(
            {
                "purpose_id": purpose.id,
                "purpose": purpose.name,
                "legal_basis": "Art. 6(1)(a) GDPR",
                "data_categories": categories,
                "recipients": recipients,
                "withdrawal_channels": list(purpose.consent.withdrawal_channels)
                if purpose.consent
                else [],
                "state": decision.reason if decision else "no consent recorded",
                "valid": bool(decision and decision.allowed),
            }
        )
    parties = [
        {
            "role": "controller",
            "name": controller.legal_name,
            "contact": controller.contact_email or controller.registered_address,
        }
    ] + [
        {"role": r.role.value, "name": r.name, "country": r.country, "id": r.id}
        for r in policy.recipients
    ]
    events = [
        {
            "seq": r.seq,
            "event_id": r.event_id,
            "type": r.kind.value,
            "purpose_id": r.purpose_id,
            "time": format_time(r.occurred_at),
            "expires_at": format_time(r.expires_at) if r.expires_at else None,
            "channel": r.channel,
            "actor": r.actor,
            "policy_version": r.policy_version,
            "purpose_hash": r.purpose_hash,
            "notice_hash": r.notice_hash,
        }
        for r in records
    ]
    return {
        "schema": SCHEMA,
        "header": {
            "record_id": subject_id,
            "subject": {"id": subject_id, "identity_kinds": sorted(set(identity_kinds))},
            "generated_at": format_time(generated_at),
            "policy_version": policy_version,
            "policy_label": policy.version,
        },
        "processing": processing,
        "parties": parties,
        "events": events,
    }
