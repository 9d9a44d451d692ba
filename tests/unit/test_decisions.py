"""Decisions: every rule of ``consent.decisions``, one fact at a time.

Each test builds the facts by hand and decides at a fixed instant, so what is
tested is the rule itself, never the clock or the store. Every decision must
say why (reason), on what (basis) and from which evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from datasteward.consent import (
    ConsentKind,
    ConsentRecord,
    Decision,
    Objection,
    ObjectionScope,
    ObjectionStatus,
    PurposeRule,
    Restriction,
    SubjectFacts,
    decide,
)
from datasteward.legaltime.instants import format_time

AT = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
BEFORE = AT - timedelta(days=10)
HASH = "a" * 64
OTHER_HASH = "b" * 64


def rule(
    *bases: str,
    purpose: str = "newsletter",
    direct_marketing: bool = False,
    sharing: bool = False,
) -> PurposeRule:
    return PurposeRule(
        purpose_id=purpose,
        bases=bases,
        direct_marketing=direct_marketing,
        sharing=sharing,
        consent_hash=HASH,
        policy_version=3,
    )


def consent(
    kind: ConsentKind = ConsentKind.GIVEN,
    *,
    at: datetime = BEFORE,
    expires_at: datetime | None = None,
    purpose_hash: str = HASH,
    purpose: str = "newsletter",
    seq: int = 7,
) -> ConsentRecord:
    return ConsentRecord(
        seq=seq,
        event_id=f"00000000-0000-4000-8000-{seq:012d}",
        subject_id="11111111-2222-4333-8444-555555555555",
        purpose_id=purpose,
        kind=kind,
        occurred_at=at,
        expires_at=expires_at,
        policy_version=2,
        purpose_hash=purpose_hash,
        notice_hash=None,
        channel="form",
        actor="web:signup",
    )


def objection(
    scope: ObjectionScope,
    status: ObjectionStatus = ObjectionStatus.UPHELD,
    *,
    purpose: str | None = None,
    at: datetime = BEFORE,
    ref: str = "obj-1",
) -> Objection:
    return Objection(ref=ref, scope=scope, purpose_id=purpose, status=status, at=at)


def facts(
    record: ConsentRecord | None = None,
    *objections: Objection,
    restriction: Restriction | None = None,
) -> SubjectFacts:
    return SubjectFacts(consent=record, objections=objections, restriction=restriction)


def assert_explained(decision: Decision) -> None:
    """Every decision names its purpose and gives a sentence; an allowed one a basis."""
    assert decision.reason
    assert decision.purpose
    if decision.allowed:
        assert decision.basis is not None
    else:
        assert decision.basis is None
    body = decision.to_dict()
    assert body["allowed"] is decision.allowed
    assert body["reason"] == decision.reason
    assert body["basis"] == decision.basis
    assert body["evidence"] == list(decision.evidence)


# -- restriction (Art. 18) ---------------------------------------------------


@pytest.mark.parametrize(
    "bases", [("contract",), ("legal_obligation",), ("vital_interests",), ("consent",)]
)
def test_restriction_stops_every_basis(bases: tuple[str, ...]) -> None:
    restriction = Restriction(ref="r-1", since=BEFORE)
    decision = decide(rule(*bases), facts(consent(), restriction=restriction), AT)
    assert not decision.allowed
    assert "restricted (Art. 18)" in decision.reason
    assert decision.evidence == (
        {"type": "restriction", "id": "r-1", "since": format_time(BEFORE)},
    )
    assert_explained(decision)


def test_restriction_applies_from_its_start_only() -> None:
    restriction = Restriction(ref="r-1", since=AT)
    assert not decide(rule("contract"), facts(restriction=restriction), AT).allowed
    later = Restriction(ref="r-1", since=AT + timedelta(microseconds=1))
    decision = decide(rule("contract"), facts(restriction=later), AT)
    assert decision.allowed
    assert decision.basis == "contract"


# -- direct marketing (Art. 21(2)-(3)) -----------------------------------------


@pytest.mark.parametrize("status", [ObjectionStatus.PENDING, ObjectionStatus.UPHELD])
@pytest.mark.parametrize(
    "bases", [("consent",), ("legitimate_interest",), ("contract",), ("public_task",)]
)
def test_direct_marketing_objection_stops_marketing_on_any_basis(
    status: ObjectionStatus, bases: tuple[str, ...]
) -> None:
    against = objection(ObjectionScope.DIRECT_MARKETING, status, ref="dm-1")
    decision = decide(rule(*bases, direct_marketing=True), facts(consent(), against), AT)
    assert not decision.allowed
    assert "objected to direct marketing (Art. 21(3))" in decision.reason
    assert decision.evidence == (against.evidence(),)
    assert decision.evidence[0]["status"] == status.value
    assert_explained(decision)


@pytest.mark.parametrize("status", [ObjectionStatus.PENDING, ObjectionStatus.UPHELD])
def test_objection_to_a_marketing_purpose_itself_stops_it(status: ObjectionStatus) -> None:
    against = objection(ObjectionScope.PURPOSE, status, purpose="newsletter")
    decision = decide(rule("consent", direct_marketing=True), facts(consent(), against), AT)
    assert not decision.allowed
    assert "Art. 21(3)" in decision.reason


def test_objection_to_another_purpose_does_not_stop_marketing() -> None:
    against = objection(ObjectionScope.PURPOSE, purpose="analytics")
    decision = decide(rule("consent", direct_marketing=True), facts(consent(), against), AT)
    assert decision.allowed
    assert decision.basis == "consent"


def test_rejected_direct_marketing_objection_does_not_stop() -> None:
    rejected = objection(ObjectionScope.DIRECT_MARKETING, ObjectionStatus.REJECTED)
    decision = decide(rule("consent", direct_marketing=True), facts(consent(), rejected), AT)
    assert decision.allowed


def test_objection_made_after_the_instant_is_not_yet_in_force() -> None:
    future = objection(ObjectionScope.DIRECT_MARKETING, at=AT + timedelta(seconds=1))
    decision = decide(rule("consent", direct_marketing=True), facts(consent(), future), AT)
    assert decision.allowed
    at_once = objection(ObjectionScope.DIRECT_MARKETING, at=AT)
    assert not decide(rule("consent", direct_marketing=True), facts(consent(), at_once), AT).allowed


def test_direct_marketing_objection_does_not_touch_other_purposes() -> None:
    against = objection(ObjectionScope.DIRECT_MARKETING)
    decision = decide(rule("legitimate_interest", purpose="fraud"), facts(None, against), AT)
    assert decision.allowed
    assert decision.basis == "legitimate_interest"


# -- Global Privacy Control (Art. 21(5)) ---------------------------------------


@pytest.mark.parametrize(
    ("direct_marketing", "sharing"), [(True, False), (False, True), (True, True)]
)
def test_gpc_stops_marketing_and_sharing(direct_marketing: bool, sharing: bool) -> None:
    signal = objection(ObjectionScope.GPC, ref="gpc-1")
    target = rule("consent", direct_marketing=direct_marketing, sharing=sharing)
    decision = decide(target, facts(consent(), signal), AT)
    assert not decision.allowed
    assert "Global Privacy Control" in decision.reason
    assert decision.evidence == (signal.evidence(),)
    assert decision.evidence[0]["scope"] == "gpc"
    assert_explained(decision)


@pytest.mark.parametrize("bases", [("consent",), ("legitimate_interest",), ("contract",)])
def test_gpc_leaves_other_purposes_alone(bases: tuple[str, ...]) -> None:
    signal = objection(ObjectionScope.GPC)
    decision = decide(rule(*bases, purpose="orders"), facts(consent(purpose="orders"), signal), AT)
    assert decision.allowed
    assert decision.basis == bases[0]


# -- objection to legitimate interest / public task (Art. 21(1)) ----------------


@pytest.mark.parametrize(
    ("basis", "article"), [("legitimate_interest", "6(1)(f)"), ("public_task", "6(1)(e)")]
)
def test_upheld_objection_stops_objectable_basis(basis: str, article: str) -> None:
    upheld = objection(ObjectionScope.PURPOSE, purpose="analytics", ref="o-9")
    decision = decide(rule(basis, purpose="analytics"), facts(None, upheld), AT)
    assert not decision.allowed
    assert f"Art. {article}" in decision.reason
    assert "upheld" in decision.reason
    assert decision.evidence == (upheld.evidence(),)
    assert_explained(decision)


@pytest.mark.parametrize("status", [ObjectionStatus.PENDING, ObjectionStatus.REJECTED])
def test_objection_not_upheld_leaves_legitimate_interest(status: ObjectionStatus) -> None:
    pending = objection(ObjectionScope.PURPOSE, status, purpose="analytics")
    decision = decide(rule("legitimate_interest", purpose="analytics"), facts(None, pending), AT)
    assert decision.allowed
    assert decision.basis == "legitimate_interest"
    assert "no upheld objection" in decision.reason
    assert decision.evidence == ()


def test_upheld_objection_in_the_future_does_not_stop_yet() -> None:
    later = objection(ObjectionScope.PURPOSE, purpose="analytics", at=AT + timedelta(hours=1))
    decision = decide(rule("legitimate_interest", purpose="analytics"), facts(None, later), AT)
    assert decision.allowed


def test_upheld_objection_to_another_purpose_does_not_stop() -> None:
    elsewhere = objection(ObjectionScope.PURPOSE, purpose="newsletter")
    decision = decide(rule("legitimate_interest", purpose="analytics"), facts(None, elsewhere), AT)
    assert decision.allowed


def test_upheld_objection_does_not_stop_contract() -> None:
    upheld = objection(ObjectionScope.PURPOSE, purpose="orders")
    decision = decide(rule("contract", purpose="orders"), facts(None, upheld), AT)
    assert decision.allowed
    assert decision.basis == "contract"


# -- bases that always allow ---------------------------------------------------


@pytest.mark.parametrize(
    ("basis", "article"),
    [
        ("contract", "Art. 6(1)(b)"),
        ("legal_obligation", "Art. 6(1)(c)"),
        ("vital_interests", "Art. 6(1)(d)"),
    ],
)
def test_bases_that_always_allow(basis: str, article: str) -> None:
    decision = decide(rule(basis, purpose="orders"), facts(), AT)
    assert decision.allowed
    assert decision.basis == basis
    assert decision.purpose == "orders"
    assert article in decision.reason
    assert decision.evidence == ()
    assert_explained(decision)


# -- consent (Art. 6(1)(a)) ------------------------------------------------------


def test_consent_none_recorded() -> None:
    decision = decide(rule("consent"), facts(), AT)
    assert not decision.allowed
    assert decision.reason == "no consent was given for this purpose"
    assert decision.evidence == ()
    assert_explained(decision)


def test_consent_given_allows_and_cites_the_event() -> None:
    record = consent(seq=12)
    decision = decide(rule("consent"), facts(record), AT)
    assert decision.allowed
    assert decision.basis == "consent"
    assert "Art. 6(1)(a)" in decision.reason
    assert decision.evidence == (record.evidence(),)
    cited = decision.evidence[0]
    assert cited["type"] == "consent_event"
    assert cited["seq"] == 12
    assert cited["kind"] == "given"
    assert cited["at"] == format_time(BEFORE)
    assert cited["policy_version"] == 2
    assert cited["channel"] == "form"
    assert_explained(decision)


@pytest.mark.parametrize("kind", [ConsentKind.WITHDRAWN, ConsentKind.REFUSED, ConsentKind.EXPIRED])
def test_consent_not_given(kind: ConsentKind) -> None:
    record = consent(kind)
    decision = decide(rule("consent"), facts(record), AT)
    assert not decision.allowed
    assert decision.reason == f"consent was {kind.value}"
    assert decision.evidence == (record.evidence(),)
    assert_explained(decision)


def test_consent_expired_at_the_boundary() -> None:
    record = consent(expires_at=AT)
    decision = decide(rule("consent"), facts(record), AT)
    assert not decision.allowed
    assert decision.reason == "consent has expired"
    assert decision.evidence == (record.evidence(),)
    just_before = decide(rule("consent"), facts(record), AT - timedelta(microseconds=1))
    assert just_before.allowed


def test_consent_with_future_expiry_is_valid() -> None:
    decision = decide(rule("consent"), facts(consent(expires_at=AT + timedelta(days=1))), AT)
    assert decision.allowed


def test_consent_stale_after_material_change() -> None:
    record = consent(purpose_hash=OTHER_HASH)
    decision = decide(rule("consent"), facts(record), AT)
    assert not decision.allowed
    assert "stale" in decision.reason
    assert decision.evidence == (record.evidence(),)


def test_consent_event_after_the_instant_is_ignored() -> None:
    later = consent(at=AT + timedelta(seconds=1))
    decision = decide(rule("consent"), facts(later), AT)
    assert not decision.allowed
    assert decision.reason == "no consent was given for this purpose"
    assert decision.evidence == ()
    assert decide(rule("consent"), facts(consent(at=AT)), AT).allowed


def test_expired_check_comes_before_stale_check() -> None:
    record = consent(expires_at=BEFORE + timedelta(days=1), purpose_hash=OTHER_HASH)
    assert decide(rule("consent"), facts(record), AT).reason == "consent has expired"


# -- several bases, in the policy's order ----------------------------------------


def test_first_basis_that_allows_wins() -> None:
    decision = decide(rule("consent", "legitimate_interest"), facts(consent()), AT)
    assert decision.basis == "consent"
    decision = decide(rule("legitimate_interest", "consent"), facts(consent()), AT)
    assert decision.basis == "legitimate_interest"


def test_falls_through_to_a_later_basis() -> None:
    decision = decide(rule("consent", "legitimate_interest"), facts(), AT)
    assert decision.allowed
    assert decision.basis == "legitimate_interest"
    upheld = objection(ObjectionScope.PURPOSE, purpose="newsletter")
    decision = decide(rule("legitimate_interest", "contract"), facts(None, upheld), AT)
    assert decision.allowed
    assert decision.basis == "contract"


def test_every_basis_refusing_lists_every_reason_and_evidence() -> None:
    record = consent(ConsentKind.WITHDRAWN)
    upheld = objection(ObjectionScope.PURPOSE, purpose="newsletter", ref="o-2")
    decision = decide(rule("consent", "legitimate_interest"), facts(record, upheld), AT)
    assert not decision.allowed
    assert decision.reason == (
        "consent was withdrawn; an objection to this purpose was upheld (Art. 6(1)(f))"
    )
    assert decision.evidence == (record.evidence(), upheld.evidence())
    assert_explained(decision)


def test_no_basis_at_all() -> None:
    decision = decide(rule(), facts(consent()), AT)
    assert not decision.allowed
    assert decision.reason == "the policy names no legal basis for this purpose"
    assert decision.basis is None
    assert decision.evidence == ()
    assert_explained(decision)


def test_rules_apply_in_order_restriction_then_objection_then_basis() -> None:
    restriction = Restriction(ref="r-1", since=BEFORE)
    signal = objection(ObjectionScope.GPC)
    target = rule("contract", direct_marketing=True)
    both = decide(target, facts(consent(), signal, restriction=restriction), AT)
    assert both.evidence[0]["type"] == "restriction"
    only_gpc = decide(target, facts(consent(), signal), AT)
    assert only_gpc.evidence[0]["type"] == "objection"
    assert not only_gpc.allowed


def test_decision_is_a_value() -> None:
    record = consent()
    first = decide(rule("consent"), facts(record), AT)
    second = decide(rule("consent"), facts(replace(record)), AT)
    assert first == second
    assert first.to_dict()["purpose"] == "newsletter"
