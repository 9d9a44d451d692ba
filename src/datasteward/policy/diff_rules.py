"""When a policy change is material, why, and whose consent it makes stale.

Two kinds of judgement live here:

* **Edits** (``added``, ``removed``, ``changed``): one rule per kind of item
  says whether an edit weakens protection (a recipient moving outside the
  EEA, a longer retention period, a security measure withdrawn ...) and
  names the article. Such an edit is material for everyone; it makes consent
  stale for the consent purposes whose scope includes the edited item.
* **Consent scope gains** (:func:`scope_gains`): for each purpose that rests
  on consent, the scope under the old and the new policy are compared. New
  data categories, recipients, transfers, cookies or a longer retention are
  material for that purpose alone, wherever in the file the edit was made.

Only purposes that rested on consent in the old policy and still exist in the
new one can have stale consent: nobody consented to the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.diff_scope import (
    PolicyIndex,
    Scope,
    cookie_lasts_longer,
    is_consent_purpose,
    longer,
)
from datasteward.policy.diff_words import FieldChange, quoted
from datasteward.policy.geography import is_third_country
from datasteward.policy.model import (
    Cookie,
    DataCategory,
    DatasetField,
    DataSubject,
    Declarations,
    ErasureAction,
    LegalHold,
    Policy,
    ProcessingActivity,
    Purpose,
    Recipient,
    RecipientRole,
    RetentionRule,
    Rights,
    SafeguardKind,
    SecurityMeasure,
    System,
)
from datasteward.policy.model.rights import ClockStart, FeePolicy

__all__ = ["DiffContext", "Gain", "Verdict", "added", "changed", "removed", "scope_gains"]


@dataclass(frozen=True)
class Verdict:
    """A material edit: why, whose consent it makes stale, and optionally a
    summary more telling than the generic one."""

    reason: str
    affected: tuple[str, ...] = ()
    summary: str | None = None


@dataclass(frozen=True)
class Gain:
    """Something a consent purpose now covers that its consent did not."""

    purpose: str
    summary: str
    reason: str


class DiffContext:
    """Both policies with their indexes, and which consent purposes use what."""

    def __init__(self, old: Policy, new: Policy) -> None:
        self.old = PolicyIndex(old)
        self.new = PolicyIndex(new)
        self.eligible = frozenset(
            p.id for p in old.purposes if is_consent_purpose(p) and p.id in self.new.purposes
        )
        """Purposes whose consents may exist and may turn stale."""
        self._users: dict[tuple[str, str], set[str]] = {}
        for purpose_id in self.eligible:
            scope = self.new.scope(purpose_id)
            keys = [("category", c) for c in scope.categories]
            keys += [("recipient", r) for r in scope.recipients]
            keys += [("system", s) for s in scope.systems]
            keys += [("cookie", c) for c in scope.cookies]
            keys += [("rule", r.id) for ret in scope.retention.values() for r in ret.rules]
            for key in keys:
                self._users.setdefault(key, set()).add(purpose_id)

    def affected(self, kind: str, ident: str) -> tuple[str, ...]:
        """Consent purposes whose new scope includes the item ``kind``/``ident``."""
        return tuple(sorted(self._users.get((kind, ident), ())))

    def consent(self, purpose_id: str) -> tuple[str, ...]:
        return (purpose_id,) if purpose_id in self.eligible else ()


def _period(period: IsoDuration | None) -> str:
    return period.describe() if period is not None else "no fixed period"


# -- edits -------------------------------------------------------------------

ChangedRule = Callable[[DiffContext, Any, Any, FieldChange], Verdict | None]
ItemRule = Callable[[DiffContext, Any], Verdict | None]

_PROMISES = {
    "no_third_country_transfers": "no personal data leaves the EEA",
    "no_sale_of_data": "personal data is never sold",
    "no_automated_decisions": "no automated decisions or profiling take place",
    "changes_weakening_protection_need_agreement": (
        "changes weakening protection take effect only with the data subject's agreement"
    ),
}


def _declarations(
    ctx: DiffContext, old: Declarations, new: Declarations, fc: FieldChange
) -> Verdict | None:
    if fc.old is True and fc.new is not True:
        promise = _PROMISES.get(fc.name, fc.name.replace("_", " "))
        return Verdict(
            f"a promise made in the notice is withdrawn: '{promise}' "
            "(fairness and transparency, Art. 5(1)(a), Art. 12(1))",
            summary=f"controller no longer declares that {promise}",
        )
    return None


def _data_subject(
    ctx: DiffContext, old: DataSubject, new: DataSubject, fc: FieldChange
) -> Verdict | None:
    younger = old.minimum_age is not None and (
        new.minimum_age is None or new.minimum_age < old.minimum_age
    )
    if (fc.name == "may_include_children" and new.may_include_children) or (
        fc.name == "minimum_age" and younger
    ):
        return Verdict("children's data now falls in scope; it merits specific protection (Art. 8)")
    return None


def _category(
    ctx: DiffContext, old: DataCategory, new: DataCategory, fc: FieldChange
) -> Verdict | None:
    if fc.name == "special" and new.special:
        return Verdict(
            "the data is now a special category, processed only under an Art. 9(2) "
            "condition (Art. 9(1))",
            ctx.affected("category", new.id),
            f"data category '{new.id}' is now a special category",
        )
    if fc.name == "criminal" and new.criminal:
        return Verdict(
            "the data now concerns criminal convictions and offences (Art. 10)",
            ctx.affected("category", new.id),
            f"data category '{new.id}' now concerns criminal convictions",
        )
    return None


def _purpose(ctx: DiffContext, old: Purpose, new: Purpose, fc: FieldChange) -> Verdict | None:
    if fc.name == "legal_bases" and set(old.legal_bases) != set(new.legal_bases):
        before = ", ".join(b.value for b in old.legal_bases) or "none"
        after = ", ".join(b.value for b in new.legal_bases) or "none"
        return Verdict(
            "the legal basis is settled before processing starts and stated in the notice "
            "(Art. 6(1), Art. 13(1)(c)); it cannot be swapped silently for processing "
            "under way",
            ctx.consent(new.id),
            f"purpose '{new.id}' now rests on {after} (was {before})",
        )
    if fc.name == "special_category_condition":
        return Verdict(
            "the condition lifting the ban on special categories changed (Art. 9(2))",
            ctx.consent(new.id),
        )
    decided = new.automated_decision.exists and not old.automated_decision.exists
    profiled = new.automated_decision.profiling and not old.automated_decision.profiling
    if fc.name == "automated_decision" and (decided or profiled):
        return Verdict(
            "the purpose now involves automated decisions or profiling (Art. 13(2)(f), Art. 22)",
            ctx.consent(new.id),
        )
    if fc.name == "direct_marketing" and new.direct_marketing:
        return Verdict(
            "the purpose now includes direct marketing (Art. 21(2)-(3))", ctx.consent(new.id)
        )
    if fc.name == "objection" and old.objection.allowed and not new.objection.allowed:
        return Verdict(
            "objection to this purpose is no longer offered (Art. 21(1), Art. 21(4))",
            ctx.consent(new.id),
        )
    return None


def _purpose_added(ctx: DiffContext, new: Purpose) -> Verdict | None:
    reused = sorted(
        a.id for a in ctx.new.activities_by_purpose.get(new.id, []) if a.id in ctx.old.activities
    )
    if not reused:
        return None
    return Verdict(
        "data already collected is used for a new purpose: it needs a compatibility "
        "assessment or its own legal basis (Art. 6(4)) and information before it starts "
        "(Art. 13(3))",
        summary=f"purpose '{new.id}' added; it reuses data of existing activity {quoted(reused)}",
    )


def _activity(
    ctx: DiffContext, old: ProcessingActivity, new: ProcessingActivity, fc: FieldChange
) -> Verdict | None:
    gained = [p for p in dict.fromkeys(new.purposes) if p not in old.purposes]
    if fc.name == "purposes" and gained:
        return Verdict(
            "data this activity already processes is used for another purpose: it needs a "
            "compatibility assessment or its own legal basis (Art. 6(4)) and information "
            "before it starts (Art. 13(3))",
            summary=f"activity '{new.id}' now also serves purpose {quoted(gained)}",
        )
    return None


def _recipient(ctx: DiffContext, old: Recipient, new: Recipient, fc: FieldChange) -> Verdict | None:
    users = ctx.affected("recipient", new.id)
    abroad = new.country is not None and is_third_country(new.country)
    if fc.name == "country" and abroad:
        return Verdict(
            "data disclosed to this recipient now leaves the EEA (Art. 13(1)(f), Art. 44-46)",
            users,
            f"recipient '{new.id}' now processes data in {new.country} "
            f"(was {old.country or 'not stated'})",
        )
    if fc.name == "safeguard" and abroad and old.safeguard is not None:
        if new.safeguard is None:
            return Verdict(
                f"the transfer to {new.country} no longer rests on a safeguard "
                f"(was {old.safeguard.kind.value}; Art. 44, Art. 46)",
                users,
                f"recipient '{new.id}' lost its transfer safeguard",
            )
        derogation = SafeguardKind.DEROGATION_ART_49
        if new.safeguard.kind is derogation and old.safeguard.kind is not derogation:
            return Verdict(
                "the transfer now relies on an Art. 49 derogation, meant for occasional "
                f"transfers, instead of {old.safeguard.kind.value} ({old.safeguard.kind.article})",
                users,
            )
    if fc.name == "role" and old.role is RecipientRole.PROCESSOR:
        return Verdict(
            "the recipient is no longer a processor bound by the controller's instructions "
            f"(Art. 28) but acts as {new.role.value}",
            users,
        )
    if fc.name == "written_agreement" and old.written_agreement and not new.written_agreement:
        return Verdict("no written processing agreement is declared any more (Art. 28(3))", users)
    return None


def _cookie(ctx: DiffContext, old: Cookie, new: Cookie, fc: FieldChange) -> Verdict | None:
    users = ctx.affected("cookie", new.name)
    if fc.name == "strictly_necessary" and old.strictly_necessary and not new.strictly_necessary:
        return Verdict(
            "the cookie is no longer strictly necessary and may be set only with consent "
            "(ePrivacy Directive Art. 5(3))",
            users,
        )
    # A longer lifetime is reported once, on the duration when it changed.
    lifetime = fc.name == "duration" or (fc.name == "session" and old.duration == new.duration)
    if lifetime and cookie_lasts_longer(old, new):
        return Verdict(
            "the cookie stays on the device longer (ePrivacy Directive Art. 5(3); "
            "storage limitation, Art. 5(1)(e))",
            users,
        )
    return None


def _rule(
    ctx: DiffContext, old: RetentionRule, new: RetentionRule, fc: FieldChange
) -> Verdict | None:
    if fc.name == "period" and longer(old.period, new.period):
        after, before = _period(new.period), _period(old.period)
        return Verdict(
            "data is kept longer (storage limitation, Art. 5(1)(e); Art. 13(2)(a))",
            ctx.affected("rule", new.id),
            f"retention rule '{new.id}' now keeps data for {after} (was {before})",
        )
    return None


def _rule_removed(ctx: DiffContext, old: RetentionRule) -> Verdict | None:
    unbounded = [
        c
        for c in sorted(ctx.old.rule_ends.get(old.id, frozenset()))
        if c in ctx.new.categories
        and not any(r.period is not None for r in ctx.new.rules_by_category.get(c, []))
    ]
    if not unbounded:
        return None
    return Verdict(
        "data is no longer ended by any retention period (storage limitation, Art. 5(1)(e); "
        "Art. 13(2)(a))",
        summary=f"retention rule '{old.id}' removed; data category {quoted(unbounded)} "
        "no longer has a retention period",
    )


def _hold(ctx: DiffContext, old: LegalHold, new: LegalHold, fc: FieldChange) -> Verdict | None:
    if fc.name == "period" and new.period > old.period:
        return Verdict(
            f"data is kept longer despite erasure requests ({new.ground.article})",
            summary=f"legal hold '{new.id}' now keeps data for {new.period.describe()} "
            f"(was {old.period.describe()})",
        )
    return None


def _hold_added(ctx: DiffContext, new: LegalHold) -> Verdict:
    return Verdict(
        f"data is kept despite erasure requests for {new.period.describe()} "
        f"({new.ground.article}); the notice must say so (Art. 13(2)(a))"
    )


def _rights(ctx: DiffContext, old: Rights, new: Rights, fc: FieldChange) -> Verdict | None:
    if fc.name == "offered":
        lost = [r.value for r in old.offered if r not in new.offered]
        if lost:
            return Verdict(
                "the notice no longer offers these rights, which the law still grants "
                "(Art. 12(2), Art. 13(2)(b)-(d))",
                summary=f"rights no longer offered: {quoted(lost)}",
            )
    if fc.name in ("response_period", "extension") and getattr(new, fc.name) > getattr(
        old, fc.name
    ):
        return Verdict("requests are answered later (Art. 12(3))")
    if fc.name == "clock_starts" and new.clock_starts is ClockStart.VERIFICATION:
        return Verdict("the response period now starts later than on receipt (Art. 12(3))")
    if fc.name == "fee_policy" and old.fee_policy is FeePolicy.FREE:
        return Verdict("requests may now be charged for (Art. 12(5))")
    if fc.name == "may_refuse_unfounded_or_excessive" and new.may_refuse_unfounded_or_excessive:
        return Verdict("requests may now be refused as unfounded or excessive (Art. 12(5))")
    return None


def _system(ctx: DiffContext, old: System, new: System, fc: FieldChange) -> Verdict | None:
    if fc.name == "country" and new.country is not None and is_third_country(new.country):
        return Verdict(
            "data kept in this system now leaves the EEA (Art. 13(1)(f), Art. 44-46)",
            ctx.affected("system", new.id),
            f"system '{new.id}' is now hosted in {new.country} (was {old.country or 'not stated'})",
        )
    return None


def _field(
    ctx: DiffContext, old: DatasetField, new: DatasetField, fc: FieldChange
) -> Verdict | None:
    if fc.name == "erasure" and new.erasure is ErasureAction.KEEP:
        return Verdict("the field is no longer erased on request (Art. 17(1))")
    return None


def _security_removed(ctx: DiffContext, old: SecurityMeasure) -> Verdict:
    return Verdict("a security measure is withdrawn: protection is weaker (Art. 32(1))")


_CHANGED: dict[str, ChangedRule] = {
    "declarations": _declarations,
    "data_subjects": _data_subject,
    "data_categories": _category,
    "purposes": _purpose,
    "processing_activities": _activity,
    "recipients": _recipient,
    "cookies": _cookie,
    "retention_rules": _rule,
    "legal_holds": _hold,
    "rights": _rights,
    "systems": _system,
    "fields": _field,
}
_ADDED: dict[str, ItemRule] = {"purposes": _purpose_added, "legal_holds": _hold_added}
_REMOVED: dict[str, ItemRule] = {"retention_rules": _rule_removed, "security": _security_removed}


def changed(ctx: DiffContext, kind: str, old: Any, new: Any, fc: FieldChange) -> Verdict | None:
    """The verdict on one changed field of an item of ``kind`` (a section name,
    or ``declarations`` / ``fields`` for those nested items)."""
    rule = _CHANGED.get(kind)
    return rule(ctx, old, new, fc) if rule else None


def added(ctx: DiffContext, kind: str, new: Any) -> Verdict | None:
    rule = _ADDED.get(kind)
    return rule(ctx, new) if rule else None


def removed(ctx: DiffContext, kind: str, old: Any) -> Verdict | None:
    rule = _REMOVED.get(kind)
    return rule(ctx, old) if rule else None


# -- consent scope gains -------------------------------------------------------

_SPECIFIC = "consent covers only what the person was told (Art. 4(11), Art. 6(1)(a))"
_TRANSFER = "a transfer outside the EEA must be disclosed and rest on a safeguard"


def scope_gains(ctx: DiffContext) -> list[Gain]:
    """What each consent purpose newly covers, purpose by purpose (sorted by id)."""
    found: list[Gain] = []
    for purpose_id in sorted(ctx.eligible):
        found += _gains(purpose_id, ctx.old.scope(purpose_id), ctx.new.scope(purpose_id))
    return found


def _gains(pid: str, old: Scope, new: Scope) -> list[Gain]:
    found: list[Gain] = []
    for cid, category in sorted(new.categories.items()):
        if cid not in old.categories:
            special = ", a special category" if category is not None and category.special else ""
            found.append(
                Gain(
                    pid,
                    f"purpose '{pid}' now also covers data category '{cid}'{special}",
                    f"new data for a consent purpose: {_SPECIFIC}",
                )
            )
    for rid, recipient in sorted(new.recipients.items()):
        if rid in old.recipients:
            continue
        where = f" ({recipient.country})" if recipient is not None and recipient.country else ""
        reason = f"a new recipient (Art. 13(1)(e)): {_SPECIFIC}"
        if ("recipient", rid) in new.transfers:
            reason += f"; {_TRANSFER} (Art. 13(1)(f), Art. 44-46)"
        found.append(
            Gain(pid, f"purpose '{pid}' now also shares data with recipient '{rid}'{where}", reason)
        )
    for key, transfer in sorted(new.transfers.items()):
        via = f"{transfer.via} '{transfer.ident}'"
        earlier = old.transfers.get(key)
        if earlier is None and key[0] == "recipient" and key[1] not in old.recipients:
            continue  # reported with the new recipient above
        if earlier is None:
            summary = f"purpose '{pid}' now also transfers data to {transfer.country} via {via}"
        elif earlier.country != transfer.country:
            summary = (
                f"purpose '{pid}' now transfers data to {transfer.country} via {via} "
                f"(was {earlier.country})"
            )
        elif earlier.safeguard is not None and transfer.safeguard is None:
            summary = (
                f"purpose '{pid}': the transfer to {transfer.country} via {via} "
                "no longer has a safeguard"
            )
        else:
            continue
        found.append(Gain(pid, summary, f"{_TRANSFER} (Art. 13(1)(f), Art. 44-46): {_SPECIFIC}"))
    for cid, retention in sorted(new.retention.items()):
        previous = old.retention.get(cid)
        if previous is not None and longer(previous.longest, retention.longest):
            after = _period(retention.longest)
            before = _period(previous.longest)
            found.append(
                Gain(
                    pid,
                    f"purpose '{pid}': data category '{cid}' is now kept for {after} "
                    f"(was {before})",
                    "data is kept longer than the person was told when consenting "
                    "(storage limitation, Art. 5(1)(e); Art. 13(2)(a))",
                )
            )
    for name, cookie in sorted(new.cookies.items()):
        if name not in old.cookies:
            found.append(
                Gain(
                    pid,
                    f"purpose '{pid}' now also uses cookie '{name}' (provider '{cookie.provider}')",
                    "consent to store or read information on the device covers the cookies "
                    "the person was told about (ePrivacy Directive Art. 5(3); Art. 4(11))",
                )
            )
    return found
