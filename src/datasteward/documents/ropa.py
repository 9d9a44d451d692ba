"""The record of processing activities (Art. 30(1) GDPR), one record per
processing activity, as CSV, JSON or an HTML page.

The record is read by supervisory authorities and auditors, so its shape is
part of the interface. CSV has a header row and one row per activity; the
columns, in this order, are ``ROPA_COLUMNS``:

=========================== ====================================================
column                      content (Art. 30(1) point)
=========================== ====================================================
activity_id                 the activity's id in the policy
activity_name               its name
activity_description        what happens in it
controller                  controller's legal name and contact details (a)
joint_controllers           joint controllers among its recipients (a)
representative              EU representative (a)
dpo                         data protection officer (a)
purposes                    purposes (b)
legal_bases                 per purpose, the Art. 6(1) letter(s), the
                            legitimate interest and any Art. 9(2) condition
data_subject_categories     categories of data subjects (c)
personal_data_categories    categories of personal data (c)
special_categories          those of them under Art. 9 or Art. 10 (c)
sources                     where the data comes from
systems                     systems holding the data
recipients                  recipients with role and country (d)
third_country_recipients    recipients located outside the EEA (d)
transfers                   country, safeguard and where to get a copy (e)
retention                   time limits for erasure, in words (f)
retention_criteria          criteria where no period is stated (f)
legal_holds                 laws that keep data longer, with their periods (f)
security_measures           technical and organisational measures (g)
policy_version              version of the policy the record comes from
effective_date              its effective date (ISO 8601)
=========================== ====================================================

A cell holding several values joins them with ``"; "``. JSON keeps lists as
lists: ``{"controller": {...}, "generated_from": {"version": ...,
"effective_date": ...}, "activities": [{...}, ...]}``. Wording (periods in
words, names of roles and safeguards) comes from the English template set, the
same words the notice uses."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from datasteward.documents.derive import derive_facts
from datasteward.documents.facts import (
    ActivityFact,
    DocumentFacts,
    HoldFact,
    PurposeFact,
    RecipientFact,
    RetentionFact,
    TransferFact,
)
from datasteward.documents.templating import environment, words
from datasteward.policy.model import Contact, Controller, Policy

__all__ = ["ROPA_COLUMNS", "ROPA_FORMATS", "render_ropa"]

ROPA_FORMATS: tuple[str, ...] = ("csv", "json", "html")

ROPA_COLUMNS: tuple[str, ...] = (
    "activity_id",
    "activity_name",
    "activity_description",
    "controller",
    "joint_controllers",
    "representative",
    "dpo",
    "purposes",
    "legal_bases",
    "data_subject_categories",
    "personal_data_categories",
    "special_categories",
    "sources",
    "systems",
    "recipients",
    "third_country_recipients",
    "transfers",
    "retention",
    "retention_criteria",
    "legal_holds",
    "security_measures",
    "policy_version",
    "effective_date",
)

_LANGUAGE = "en"
_JOIN = "; "


def render_ropa(policy: Policy, fmt: str = "csv") -> str:
    """The record of processing of ``policy`` as CSV, JSON or HTML."""
    if fmt not in ROPA_FORMATS:
        raise ValueError(f"unknown ROPA format {fmt!r}; choose one of: {', '.join(ROPA_FORMATS)}")
    facts = derive_facts(policy)
    if fmt == "html":
        template = environment(_LANGUAGE, html=True).get_template("ropa.html.j2")
        return template.render(f=facts, language=_LANGUAGE)
    phrases = _Phrases(words(_LANGUAGE))
    if fmt == "json":
        return json.dumps(_document(facts, phrases), ensure_ascii=False, indent=2) + "\n"
    return _csv(facts, phrases)


class _Phrases:
    """The template set's wording as plain one-line strings for CSV and JSON."""

    def __init__(self, module: Any) -> None:
        self._w = module

    def __call__(self, macro: str, *args: Any) -> str:
        return " ".join(str(getattr(self._w, macro)(*args)).split())


# -- CSV ---------------------------------------------------------------------------


def _row(act: ActivityFact, facts: DocumentFacts, say: _Phrases) -> dict[str, str]:
    controller = facts.controller
    rep, dpo = controller.eu_representative, controller.dpo
    return {
        "activity_id": act.id,
        "activity_name": act.name,
        "activity_description": act.description or "",
        "controller": say("ropa_controller", controller),
        "joint_controllers": _JOIN.join(say("ropa_recipient", r) for r in act.joint_controllers),
        "representative": say("contact_line", rep) if rep else "",
        "dpo": say("contact_line", dpo) if dpo else "",
        "purposes": _JOIN.join(p.name for p in act.purposes),
        "legal_bases": _JOIN.join(say("ropa_basis", p) for p in act.purposes),
        "data_subject_categories": _JOIN.join(act.subjects),
        "personal_data_categories": _JOIN.join(c.name for c in act.categories),
        "special_categories": _JOIN.join(c.name for c in act.categories if c.special or c.criminal),
        "sources": _JOIN.join(say("ropa_source", s) for s in act.sources),
        "systems": _JOIN.join(act.systems),
        "recipients": _JOIN.join(say("ropa_recipient", r) for r in act.recipients),
        "third_country_recipients": _JOIN.join(
            say("ropa_recipient", r) for r in act.recipients if r.third_country
        ),
        "transfers": _JOIN.join(say("ropa_transfer", t) for t in act.transfers),
        "retention": _JOIN.join(say("ropa_retention", r) for r in act.retention),
        "retention_criteria": act.retention_criteria or "",
        "legal_holds": _JOIN.join(say("ropa_hold", h) for h in act.holds),
        "security_measures": _JOIN.join(facts.security),
        "policy_version": facts.version,
        "effective_date": facts.effective_date.isoformat(),
    }


def _csv(facts: DocumentFacts, phrases: _Phrases) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROPA_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for act in facts.activities:
        writer.writerow(_row(act, facts, phrases))
    return out.getvalue()


# -- JSON ------------------------------------------------------------------------


def _contact(contact: Contact | None) -> dict[str, str | None] | None:
    if contact is None:
        return None
    email = str(contact.email) if contact.email else None
    return {
        "name": contact.name,
        "email": email,
        "phone": contact.phone,
        "address": contact.address,
    }


def _controller(controller: Controller) -> dict[str, Any]:
    authority = controller.supervisory_authority
    return {
        "legal_name": controller.legal_name,
        "short_name": controller.short_name,
        "registration_number": controller.registration_number,
        "vat_number": controller.vat_number,
        "registered_address": controller.registered_address,
        "office_address": controller.office_address,
        "country": controller.country,
        "email": str(controller.contact_email) if controller.contact_email else None,
        "phone": controller.contact_phone,
        "website": controller.website,
        "dpo": _contact(controller.dpo),
        "representative": _contact(controller.eu_representative),
        "supervisory_authority": authority.model_dump(mode="json") if authority else None,
    }


def _purpose(purpose: PurposeFact, phrases: _Phrases) -> dict[str, Any]:
    condition = None
    if purpose.special_condition is not None:
        condition = {
            "condition": purpose.special_condition.value,
            "article": phrases("special_article", purpose),
        }
    return {
        "id": purpose.id,
        "name": purpose.name,
        "legal_bases": [
            {"basis": b.basis.value, "article": phrases("basis_article", b)} for b in purpose.bases
        ],
        "legitimate_interest": purpose.legitimate_interest,
        "special_category_condition": condition,
    }


def _recipient(recipient: RecipientFact) -> dict[str, Any]:
    return {
        "id": recipient.id,
        "name": recipient.name,
        "role": recipient.role.value if recipient.role else None,
        "is_category": recipient.is_category,
        "country": recipient.country,
        "third_country": recipient.third_country,
    }


def _transfer(transfer: TransferFact, phrases: _Phrases) -> dict[str, Any]:
    return {
        "recipient": transfer.recipient,
        "system": transfer.system,
        "country": transfer.country,
        "safeguard": transfer.safeguard.value if transfer.safeguard else None,
        "safeguard_reference": transfer.safeguard_reference,
        "copy_available_at": transfer.copy_available_at,
        "text": phrases("ropa_transfer", transfer),
    }


def _retention(rule: RetentionFact, phrases: _Phrases) -> dict[str, Any]:
    return {
        "data_categories": list(rule.categories),
        "period": str(rule.period) if rule.period is not None else None,
        "anchor": rule.anchor.value,
        "anchor_name": rule.anchor_name,
        "action": rule.action.value,
        "criteria": rule.criteria,
        "text": phrases("retention_phrase", rule),
    }


def _hold(hold: HoldFact, phrases: _Phrases) -> dict[str, Any]:
    return {
        "id": hold.id,
        "law": hold.law,
        "reference": hold.reference,
        "ground": hold.ground.value,
        "ground_article": hold.ground.article,
        "data_categories": list(hold.categories),
        "period": str(hold.period),
        "anchor": hold.anchor.value,
        "anchor_name": hold.anchor_name,
        "text": phrases("hold_phrase", hold),
    }


def _activity(act: ActivityFact, facts: DocumentFacts, phrases: _Phrases) -> dict[str, Any]:
    return {
        "id": act.id,
        "name": act.name,
        "description": act.description,
        "joint_controllers": [_recipient(r) for r in act.joint_controllers],
        "purposes": [_purpose(p, phrases) for p in act.purposes],
        "data_subjects": list(act.subjects),
        "data_categories": [
            {"id": c.id, "name": c.name, "special": c.special, "criminal": c.criminal}
            for c in act.categories
        ],
        "sources": [{"kind": s.kind.value, "description": s.description} for s in act.sources],
        "systems": list(act.systems),
        "recipients": [_recipient(r) for r in act.recipients],
        "transfers": [_transfer(t, phrases) for t in act.transfers],
        "retention": [_retention(r, phrases) for r in act.retention],
        "retention_criteria": act.retention_criteria,
        "legal_holds": [_hold(h, phrases) for h in act.holds],
        "security_measures": list(facts.security),
    }


def _document(facts: DocumentFacts, phrases: _Phrases) -> dict[str, Any]:
    return {
        "controller": _controller(facts.controller),
        "generated_from": {
            "version": facts.version,
            "effective_date": facts.effective_date.isoformat(),
        },
        "activities": [_activity(a, facts, phrases) for a in facts.activities],
    }
