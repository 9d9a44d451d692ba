"""The consent ledger through its real services, on SQLite and PostgreSQL.

Recording, deciding and listing consent; refusing bad input without writing
anything; finding people by any spelling of their identity; keeping the
source of an event minimised and encrypted; expiry and staleness driven by
the policy; Global Privacy Control; warm decisions equal to cold ones; and
the exported consent record."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from tests.integration.conftest import MINIMAL, START, Steward, policy_variant

from datasteward.audit.service import verify_store
from datasteward.consent import cache as cache_module
from datasteward.consent import service as service_module
from datasteward.consent.cache import DecisionCache
from datasteward.consent.decisions import Decision, decide
from datasteward.consent.event_ids import new_event_id
from datasteward.consent.group_commit import Pending
from datasteward.consent.model import (
    Channel,
    ConsentKind,
    ConsentRecord,
    Objection,
    ObjectionScope,
    ObjectionStatus,
    SubjectFacts,
)
from datasteward.consent.receipt import build_receipt
from datasteward.consent.service import ConsentRequest, _Call
from datasteward.consent.source import SourceDetails
from datasteward.crypto import open_sealed
from datasteward.errors import (
    Conflict,
    DecryptionFailed,
    InvalidInput,
    NotFound,
    PolicyLintFailed,
    StoreError,
)
from datasteward.legaltime.instants import format_time
from datasteward.policy.active import load_active_policy
from datasteward.store.tables import METADATA, restrictions

ANA = "email:ana.berzina@example.lv"
BOB = "email:bob@example.lv"

NEW_RECIPIENT = (
    "    retention: [newsletter-end]\nretention_rules:",
    "    retention: [newsletter-end]\n    recipients: [mailer]\n"
    "recipients:\n"
    "  - id: mailer\n"
    "    name: SIA Vēstuļu Pasts\n"
    "    role: processor\n"
    "    country: LV\n"
    "    written_agreement: true\n"
    "retention_rules:",
)
LONGER_RETENTION = ("    period: P1M", "    period: P6M")
NEW_WORDING = ("    name: Newsletter\n", "    name: Monthly newsletter\n")
EXPIRES_AFTER_A_YEAR = (
    "      withdrawal_channels: [unsubscribe_link, privacy_center]\n",
    "      withdrawal_channels: [unsubscribe_link, privacy_center]\n      expires_after: P1Y\n",
)
SHARING_PURPOSE = (
    "  - id: newsletter\n    name: Newsletter\n",
    "  - id: partner_offers\n"
    "    name: Offers from partner shops\n"
    "    legal_bases: [consent]\n"
    "    consent:\n"
    "      mechanism: checkbox\n"
    "      withdrawal_channels: [privacy_center]\n"
    "  - id: newsletter\n    name: Newsletter\n",
)
SHARING_ACTIVITY = (
    "retention_rules:",
    "  - id: partners\n"
    "    name: Sharing with partner shops\n"
    "    purposes: [partner_offers]\n"
    "    data_categories: [email]\n"
    "    data_subjects: [customer]\n"
    "    recipients: [partner]\n"
    "    retention: [newsletter-end]\n"
    "recipients:\n"
    "  - id: partner\n"
    "    name: SIA Kaimiņu Veikals\n"
    "    role: controller\n"
    "    country: LV\n"
    "retention_rules:",
)


def assert_chains_intact(steward: Steward) -> None:
    for name, result in verify_store(steward.store).items():
        assert result.ok, (name, result.reason)


# -- give, withdraw, refuse, check, history -----------------------------------


def test_give_check_withdraw_and_history(steward: Steward) -> None:
    given = steward.give(ANA, channel=Channel.BANNER, actor="web:banner")
    assert given.seq == 1
    assert given.kind is ConsentKind.GIVEN
    assert given.occurred_at == START
    assert given.policy_version == 1
    assert given.expires_at is None

    decision = steward.ledger.check(steward.identity(ANA), "newsletter")
    assert decision.allowed
    assert decision.basis == "consent"
    assert decision.evidence == (given.evidence(),)

    steward.clock.advance(timedelta(days=3))
    withdrawn = steward.ledger.withdraw(
        steward.identity(ANA), "newsletter", channel=Channel.EMAIL, actor="staff:līga"
    )
    assert withdrawn.seq == 2
    assert withdrawn.subject_id == given.subject_id
    assert withdrawn.occurred_at == START + timedelta(days=3)

    now = steward.ledger.check(steward.identity(ANA), "newsletter")
    assert not now.allowed
    assert now.reason == "consent was withdrawn"
    assert now.evidence[0]["seq"] == 2
    earlier = steward.ledger.check(steward.identity(ANA), "newsletter", START + timedelta(days=1))
    assert earlier.allowed
    assert earlier.evidence[0]["seq"] == 1
    before_any = steward.ledger.check(
        steward.identity(ANA), "newsletter", START - timedelta(days=1)
    )
    assert before_any.reason == "no consent was given for this purpose"

    history = steward.ledger.history(steward.identity(ANA))
    assert history == [given, withdrawn]
    assert [r.channel for r in history] == ["banner", "email"]
    assert [r.actor for r in history] == ["web:banner", "staff:līga"]
    assert steward.ledger.history(steward.identity(ANA), "newsletter") == history
    with steward.store.reading() as tx:
        rule = load_active_policy(tx).rules["newsletter"]
    assert {r.purpose_hash for r in history} == {rule.consent_hash}
    assert_chains_intact(steward)


def test_refuse_after_being_asked_again(steward: Steward) -> None:
    steward.give(ANA)
    steward.clock.advance(timedelta(hours=1))
    refused = steward.ledger.refuse(
        steward.identity(ANA), "newsletter", channel=Channel.BANNER, actor="web:banner"
    )
    assert refused.kind is ConsentKind.REFUSED
    assert refused.expires_at is None
    decision = steward.ledger.check(steward.identity(ANA), "newsletter")
    assert not decision.allowed
    assert decision.reason == "consent was refused"
    with pytest.raises(Conflict, match="is refused"):
        steward.ledger.withdraw(steward.identity(ANA), "newsletter", channel=Channel.API, actor="a")


def test_contract_purpose_is_allowed_without_consent(steward: Steward) -> None:
    steward.give(ANA)
    decision = steward.ledger.check(steward.identity(ANA), "orders")
    assert decision.allowed
    assert decision.basis == "contract"


def test_back_dated_events_are_ordered_by_time(steward: Steward) -> None:
    later = steward.give(ANA)
    earlier = steward.give(ANA, occurred_at=START - timedelta(days=2))
    withdrawn = steward.ledger.withdraw(
        steward.identity(ANA),
        "newsletter",
        channel=Channel.STAFF,
        actor="staff:a",
        occurred_at=START - timedelta(days=1),
    )
    assert [r.seq for r in steward.ledger.history(steward.identity(ANA))] == [
        earlier.seq,
        withdrawn.seq,
        later.seq,
    ]
    assert steward.ledger.check(steward.identity(ANA), "newsletter").allowed
    in_between = steward.ledger.check(
        steward.identity(ANA), "newsletter", START - timedelta(hours=1)
    )
    assert in_between.reason == "consent was withdrawn"


def test_batch_is_recorded_in_one_transaction(steward: Steward) -> None:
    records = steward.ledger.record_many(
        [
            ConsentRequest(steward.identity(ANA), "newsletter", ConsentKind.GIVEN, Channel.IMPORT),
            ConsentRequest(steward.identity(BOB), "newsletter", ConsentKind.GIVEN, Channel.IMPORT),
        ],
        actor="import:crm",
    )
    assert [r.seq for r in records] == [1, 2]
    assert records[0].subject_id != records[1].subject_id
    assert steward.count("subjects") == 2
    assert_chains_intact(steward)


# -- bad input writes nothing ----------------------------------------------------


def refused_without_writing(
    steward: Steward, error: type[Exception], match: str, call: Any
) -> None:
    before = steward.counts()
    with pytest.raises(error, match=match):
        call()
    assert steward.counts() == before


def test_unknown_purpose_suggests_the_right_one(steward: Steward) -> None:
    refused_without_writing(
        steward,
        NotFound,
        r"unknown purpose 'newsleter' \(did you mean 'newsletter'\?\)",
        lambda: steward.give(ANA, "newsleter"),
    )
    refused_without_writing(
        steward, NotFound, r"declared: orders, newsletter", lambda: steward.give(ANA, "zzz")
    )


def test_purpose_not_resting_on_consent(steward: Steward) -> None:
    refused_without_writing(
        steward, InvalidInput, "rests on contract, not consent", lambda: steward.give(ANA, "orders")
    )


def test_event_in_the_future(steward: Steward) -> None:
    refused_without_writing(
        steward,
        InvalidInput,
        "is in the future",
        lambda: steward.give(ANA, occurred_at=START + timedelta(seconds=1)),
    )


def test_expiry_before_the_event(steward: Steward) -> None:
    refused_without_writing(
        steward,
        InvalidInput,
        "expiry must be later",
        lambda: steward.give(ANA, expires_at=START),
    )


def test_nothing_to_withdraw(steward: Steward) -> None:
    steward.ledger.record_gpc(steward.identity(ANA), actor="web:gpc")

    def withdraw() -> ConsentRecord:
        return steward.ledger.withdraw(
            steward.identity(ANA), "newsletter", channel=Channel.EMAIL, actor="staff:a"
        )

    refused_without_writing(steward, Conflict, "is never given for this subject", withdraw)
    steward.give(ANA)
    withdraw()
    refused_without_writing(steward, Conflict, "is withdrawn for this subject", withdraw)


def test_unknown_subject(steward: Steward) -> None:
    steward.give(ANA)
    nobody = steward.identity("email:nobody@example.lv")
    for call in (
        lambda: steward.ledger.check(nobody, "newsletter"),
        lambda: steward.ledger.history(nobody),
        lambda: steward.ledger.withdraw(nobody, "newsletter", channel=Channel.API, actor="a"),
        lambda: steward.ledger.refuse(nobody, "newsletter", channel=Channel.API, actor="a"),
    ):
        refused_without_writing(steward, NotFound, r"unknown subject 'email:n\*\*\*@", call)


def test_history_of_unknown_purpose(steward: Steward) -> None:
    steward.give(ANA)
    with pytest.raises(NotFound, match="did you mean 'newsletter'"):
        steward.ledger.history(steward.identity(ANA), "newsleter")


def test_one_bad_request_refuses_the_whole_batch(steward: Steward) -> None:
    """Nothing of a batch is written, not even the new person's data key."""
    steward.give(BOB)
    steward.ledger.withdraw(steward.identity(BOB), "newsletter", channel=Channel.API, actor="a")
    good = ConsentRequest(steward.identity(ANA), "newsletter", ConsentKind.GIVEN, Channel.IMPORT)
    nobody = steward.identity("email:carl@example.lv")
    bad_requests: list[tuple[ConsentRequest, type[Exception], str]] = [
        (
            replace(good, identity=steward.identity(BOB), purpose_id="newsleter"),
            NotFound,
            "newsleter",
        ),
        (
            replace(good, identity=steward.identity(BOB), purpose_id="orders"),
            InvalidInput,
            "contract",
        ),
        (replace(good, occurred_at=START + timedelta(days=1)), InvalidInput, "future"),
        (replace(good, identity=nobody, kind=ConsentKind.WITHDRAWN), NotFound, "subject"),
        (
            replace(good, identity=steward.identity(BOB), kind=ConsentKind.WITHDRAWN),
            Conflict,
            "withdrawn",
        ),
    ]
    for bad, error, match in bad_requests:
        refused_without_writing(
            steward,
            error,
            match,
            lambda bad=bad: steward.ledger.record_many([good, bad], actor="i"),
        )


def test_no_policy_applied(bare_steward: Steward) -> None:
    refused_without_writing(
        bare_steward, StoreError, "no policy has been applied", lambda: bare_steward.give(ANA)
    )


def test_policy_with_lint_errors_is_refused_unless_forced(steward: Steward) -> None:
    broken = policy_variant(("  contact_email: privacy@zala-plava.example\n", ""))
    refused_without_writing(steward, PolicyLintFailed, "DS102", lambda: steward.apply(broken))
    result = steward.apply(broken, force=True)
    assert result.forced
    assert result.version == 2
    with steward.store.reading() as tx:
        entry = tx.audit_entries(action="policy.applied", limit=1)[0]
    assert entry.reason == "forced despite lint errors"
    assert entry.details["lint_errors"] == ["DS102"]


# -- identities ---------------------------------------------------------------------


def test_identities_are_found_by_any_spelling(steward: Steward) -> None:
    given = steward.give("email:Ana.Berzina@Example.LV")
    for spelling in (ANA, "email:  ANA.BERZINA@example.lv ", "EMAIL:ana.berzina@EXAMPLE.lv"):
        assert steward.subject_of(spelling) == given.subject_id
        assert steward.ledger.check(steward.identity(spelling), "newsletter").allowed
    again = steward.give(ANA)
    assert again.subject_id == given.subject_id
    assert steward.count("subjects") == 1
    assert steward.count("identities") == 1
    with steward.store.reading() as tx:
        assert steward.directory.reveal(tx, given.subject_id) == [steward.identity(ANA)]


def test_phone_identity_in_national_form(steward: Steward) -> None:
    given = steward.give("phone:+371 2000 0001")
    assert steward.subject_of("phone:20000001") == given.subject_id
    assert steward.subject_of("phone:+37120000001") == given.subject_id


def test_subject_creation_is_audited_without_personal_data(steward: Steward) -> None:
    given = steward.give(ANA)
    with steward.store.reading() as tx:
        entries = tx.audit_entries(action="subject.created")
    assert [(e.object_id, e.details["identity_kind"]) for e in entries] == [
        (given.subject_id, "email")
    ]
    dumped = json.dumps([r for r in steward.rows("audit_events")], default=str)
    assert "ana" not in dumped.lower()


# -- the source of an event ----------------------------------------------------------

RAW_IP = "203.0.113.77"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Zaļā-Pļava-App/4.2"


def open_source(steward: Steward, subject_id: str, seq: int, event_id: str) -> dict[str, Any]:
    with steward.store.reading() as tx:
        token = tx.consent_source(seq)
    assert token is not None
    plain = open_sealed(
        steward.directory.data_key(subject_id), token, aad=f"consent-source:{event_id}".encode()
    )
    data: dict[str, Any] = json.loads(plain)
    return data


def test_source_ip_is_truncated_and_encrypted(steward: Steward) -> None:
    given = steward.give(
        ANA, source=SourceDetails(ip=RAW_IP, user_agent=USER_AGENT, reference="form-7")
    )
    assert open_source(steward, given.subject_id, given.seq, given.event_id) == {
        "ip": "203.0.113.0",
        "user_agent": USER_AGENT,
        "reference": "form-7",
    }
    v6 = steward.give(BOB, source=SourceDetails(ip="2001:db8:1:2::5"))
    assert open_source(steward, v6.subject_id, v6.seq, v6.event_id) == {"ip": "2001:db8:1::"}

    with steward.store.reading() as tx:
        token = tx.consent_source(given.seq)
    assert token is not None
    with pytest.raises(DecryptionFailed):  # bound to its event: cannot be moved to another
        open_sealed(
            steward.directory.data_key(given.subject_id),
            token,
            aad=f"consent-source:{v6.event_id}".encode(),
        )

    secrets_ = [RAW_IP, "203.0.113", "2001:db8", "Mozilla", "Pļava-App", "ana.berzina", "form-7"]
    assert not leaked(steward, secrets_)
    assert_chains_intact(steward)


def test_long_user_agent_is_cut(steward: Steward) -> None:
    given = steward.give(ANA, source=SourceDetails(user_agent="x" * 2000))
    assert open_source(steward, given.subject_id, given.seq, given.event_id) == {
        "user_agent": "x" * 512
    }


def test_invalid_ip_is_refused_without_writing(steward: Steward) -> None:
    refused_without_writing(
        steward,
        InvalidInput,
        "is not an IP address",
        lambda: steward.give(ANA, source=SourceDetails(ip="203.0.113.777")),
    )


def leaked(steward: Steward, needles: list[str]) -> list[str]:
    """Which ``needles`` appear in clear anywhere in the engine store."""
    if steward.backend == "sqlite":
        steward.engine.dispose()  # checkpoint the WAL into the file
        database = Path(str(steward.engine.url.database))
        blob = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    else:
        parts: list[bytes] = []
        for table in METADATA.tables:
            for row in steward.rows(table):
                for value in row.values():
                    parts.append(value if isinstance(value, bytes) else str(value).encode())
        blob = b"\x00".join(parts)
    blob += steward.keystore_path.read_bytes()
    return [n for n in needles if n.encode() in blob]


# -- expiry and staleness follow the policy ------------------------------------------


def test_expiry_comes_from_the_purpose(steward: Steward) -> None:
    result = steward.apply(policy_variant(EXPIRES_AFTER_A_YEAR))
    assert result.diff is not None
    assert not result.diff.material
    given = steward.give(ANA)
    expiry = START.replace(year=START.year + 1)
    assert given.expires_at == expiry
    assert steward.ledger.history(steward.identity(ANA))[0].expires_at == expiry
    check = steward.ledger.check
    assert check(steward.identity(ANA), "newsletter", expiry - timedelta(microseconds=1)).allowed
    expired = check(steward.identity(ANA), "newsletter", expiry)
    assert not expired.allowed
    assert expired.reason == "consent has expired"

    explicit = steward.give(BOB, expires_at=START + timedelta(days=30))
    assert explicit.expires_at == START + timedelta(days=30)
    steward.clock.advance(timedelta(days=1))
    withdrawn = steward.ledger.withdraw(
        steward.identity(ANA), "newsletter", channel=Channel.API, actor="a"
    )
    assert withdrawn.expires_at is None


def test_without_expiry_setting_consent_does_not_expire(steward: Steward) -> None:
    steward.give(ANA)
    far = START + timedelta(days=3650)
    assert steward.ledger.check(steward.identity(ANA), "newsletter", far).allowed


@pytest.mark.parametrize(
    "change", [NEW_RECIPIENT, LONGER_RETENTION], ids=["recipient", "retention"]
)
def test_material_change_makes_consent_stale(steward: Steward, change: tuple[str, str]) -> None:
    old = steward.give(ANA)
    steward.clock.advance(timedelta(days=1))
    result = steward.apply(policy_variant(change))
    assert result.version == 2
    assert result.diff is not None
    assert result.diff.material
    assert result.diff.stale_purposes == ("newsletter",)

    stale = steward.ledger.check(steward.identity(ANA), "newsletter")
    assert not stale.allowed
    assert "stale" in stale.reason
    assert stale.evidence == (old.evidence(),)
    assert steward.ledger.check(steward.identity(ANA), "orders").allowed

    steward.clock.advance(timedelta(hours=1))
    renewed = steward.give(ANA)
    assert renewed.policy_version == 2
    assert renewed.purpose_hash != old.purpose_hash
    assert steward.ledger.check(steward.identity(ANA), "newsletter").allowed


def test_wording_change_keeps_consent_valid(steward: Steward) -> None:
    old = steward.give(ANA)
    result = steward.apply(policy_variant(NEW_WORDING))
    assert result.version == 2
    assert result.diff is not None
    assert result.diff.changes
    assert not result.diff.material
    decision = steward.ledger.check(steward.identity(ANA), "newsletter")
    assert decision.allowed
    with steward.store.reading() as tx:
        assert load_active_policy(tx).rules["newsletter"].consent_hash == old.purpose_hash

    steward.apply(policy_variant(NEW_WORDING, NEW_RECIPIENT))
    assert "stale" in steward.ledger.check(steward.identity(ANA), "newsletter").reason


def test_reapplying_the_same_policy_changes_nothing(steward: Steward) -> None:
    before = steward.counts()
    result = steward.apply(MINIMAL.read_text(encoding="utf-8"))
    assert result.unchanged
    assert result.version == 1
    assert steward.counts() == before


# -- Global Privacy Control ---------------------------------------------------------


def test_gpc_stops_direct_marketing_only(steward: Steward) -> None:
    steward.give(ANA)
    steward.clock.advance(timedelta(minutes=5))
    objection = steward.ledger.record_gpc(steward.identity(ANA), actor="web:gpc")
    assert objection.scope is ObjectionScope.GPC
    assert objection.status is ObjectionStatus.UPHELD
    assert objection.at == START + timedelta(minutes=5)

    decision = steward.ledger.check(steward.identity(ANA), "newsletter")
    assert not decision.allowed
    assert "Global Privacy Control" in decision.reason
    assert decision.evidence == (objection.evidence(),)
    assert steward.ledger.check(steward.identity(ANA), "orders").allowed
    assert steward.ledger.check(steward.identity(ANA), "newsletter", START).allowed

    subject_id = steward.subject_of(ANA)
    with steward.store.reading() as tx:
        assert tx.objections_of(subject_id) == [objection]
        entry = tx.audit_entries(action="objection.recorded")[0]
    assert entry.object_id == subject_id
    assert entry.details == {"objection": objection.ref, "scope": "gpc"}


def test_gpc_from_a_new_visitor_creates_the_subject(steward: Steward) -> None:
    steward.ledger.record_gpc(steward.identity(BOB), actor="web:gpc")
    assert steward.count("subjects") == 1
    assert steward.count("objections") == 1
    assert steward.ledger.check(steward.identity(BOB), "orders").allowed


def test_gpc_stops_sharing_with_other_controllers(steward: Steward) -> None:
    steward.apply(policy_variant(SHARING_PURPOSE, SHARING_ACTIVITY))
    steward.give(ANA, "partner_offers")
    assert steward.ledger.check(steward.identity(ANA), "partner_offers").allowed
    steward.clock.advance(timedelta(seconds=1))
    steward.ledger.record_gpc(steward.identity(ANA), actor="web:gpc")
    decision = steward.ledger.check(steward.identity(ANA), "partner_offers")
    assert not decision.allowed
    assert "Global Privacy Control" in decision.reason


# -- warm decisions -----------------------------------------------------------------


def add_restriction(steward: Steward, subject_id: str, ref: str, since_offset: timedelta) -> None:
    with steward.engine.begin() as connection:
        connection.execute(
            insert(restrictions).values(
                id=ref,
                subject_id=subject_id,
                since=format_time(START + since_offset),
                lifted_at=None,
            )
        )


def populate(steward: Steward) -> list[str]:
    """Subjects in every state a decision can see; returns their ids."""
    ids: list[str] = []

    def who(name: str) -> str:
        return f"email:{name}@example.lv"

    ids.append(steward.give(who("given")).subject_id)
    ids.append(steward.give(who("withdrawn")).subject_id)
    ids.append(steward.give(who("refused")).subject_id)
    ids.append(steward.give(who("expiring"), expires_at=START + timedelta(hours=1)).subject_id)
    ids.append(steward.give(who("gpc")).subject_id)
    ids.append(steward.give(who("objecting")).subject_id)
    ids.append(steward.give(who("restricted")).subject_id)
    ids.append(steward.give(who("backdated"), occurred_at=START - timedelta(days=5)).subject_id)
    steward.clock.advance(timedelta(minutes=30))
    steward.ledger.withdraw(
        steward.identity(who("withdrawn")), "newsletter", channel=Channel.EMAIL, actor="a"
    )
    steward.ledger.refuse(
        steward.identity(who("refused")), "newsletter", channel=Channel.BANNER, actor="a"
    )
    steward.ledger.record_gpc(steward.identity(who("gpc")), actor="web:gpc")
    with steward.store.transaction() as tx:
        tx.insert_objection(
            Objection(
                ref=str(uuid.uuid4()),
                scope=ObjectionScope.DIRECT_MARKETING,
                purpose_id=None,
                status=ObjectionStatus.PENDING,
                at=START + timedelta(minutes=30),
            ),
            ids[5],
        )
    # Two restrictions, the later one stored first: the earliest one counts.
    add_restriction(steward, ids[6], "r-late", timedelta(hours=2))
    add_restriction(steward, ids[6], "r-early", timedelta(hours=1))
    ids.append(str(uuid.uuid4()))  # an id nothing is recorded for
    return ids


def assert_warm_equals_cold(steward: Steward, ids: list[str], purposes: list[str]) -> int:
    compared = 0
    for offset in (
        timedelta(days=-7),
        timedelta(0),
        timedelta(minutes=45),
        timedelta(hours=1, minutes=30),
        timedelta(days=2),
    ):
        at = START + offset
        with steward.store.reading() as tx:
            rules = load_active_policy(tx).rules
        warm = DecisionCache(rules, at)
        assert warm.load(steward.store, ids, at) == len(ids)
        for subject_id in ids:
            for purpose in purposes:
                cold = steward.ledger.check_subject(subject_id, purpose, at)
                assert warm.may_process(subject_id, purpose, at) == cold, (subject_id, purpose, at)
                compared += 1
    return compared


def test_warm_decisions_equal_cold_ones(steward: Steward, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "BATCH", 3)
    ids = populate(steward)
    assert assert_warm_equals_cold(steward, ids, ["orders", "newsletter"]) == 5 * 9 * 2

    steward.clock.advance(timedelta(hours=1))
    steward.apply(policy_variant(NEW_RECIPIENT))
    steward.give("email:fresh@example.lv")
    ids.append(steward.subject_of("email:fresh@example.lv"))
    assert_warm_equals_cold(steward, ids, ["orders", "newsletter"])


def test_warm_decision_for_unknown_purpose(steward: Steward) -> None:
    with steward.store.reading() as tx:
        rules = load_active_policy(tx).rules
    with pytest.raises(NotFound, match="did you mean 'newsletter'"):
        DecisionCache(rules, START).may_process(str(uuid.uuid4()), "newsleter", START)


def test_forget_drops_a_subject(steward: Steward) -> None:
    given = steward.give(ANA)
    with steward.store.reading() as tx:
        rules = load_active_policy(tx).rules
    warm = DecisionCache(rules, START)
    warm.load(steward.store, [given.subject_id], START)
    assert len(warm) == 1
    assert warm.may_process(given.subject_id, "newsletter", START).allowed
    warm.forget(given.subject_id)
    assert len(warm) == 0
    assert not warm.may_process(given.subject_id, "newsletter", START).allowed


# -- the consent record (receipt) -----------------------------------------------------


def test_receipt(steward: Steward) -> None:
    given = steward.give(ANA, source=SourceDetails(ip=RAW_IP))
    subject_id = given.subject_id
    with steward.store.transaction() as tx:
        steward.directory.add_identity(
            tx, subject_id, steward.identity("phone:+37120000002"), actor="staff:a"
        )
    steward.clock.advance(timedelta(days=1))
    withdrawn = steward.ledger.withdraw(
        steward.identity(ANA), "newsletter", channel=Channel.EMAIL, actor="a"
    )
    now = steward.clock.now()
    with steward.store.reading() as tx:
        active = load_active_policy(tx)
        kinds = [i.kind for i in tx.identities_of(subject_id)]
        records = tx.consent_events(subject_id)
    decisions = {"newsletter": steward.ledger.check_subject(subject_id, "newsletter", now)}
    receipt = build_receipt(
        policy=active.policy,
        policy_version=active.version,
        subject_id=subject_id,
        identity_kinds=kinds,
        records=records,
        decisions=decisions,
        generated_at=now,
    )
    assert set(receipt) == {"schema", "header", "processing", "parties", "events"}
    assert "ISO/IEC TS 27560" in str(receipt["schema"])
    assert receipt["header"] == {
        "record_id": subject_id,
        "subject": {"id": subject_id, "identity_kinds": ["email", "phone"]},
        "generated_at": format_time(now),
        "policy_version": 1,
        "policy_label": "1.0",
    }
    assert receipt["processing"] == [
        {
            "purpose_id": "newsletter",
            "purpose": "Newsletter",
            "legal_basis": "Art. 6(1)(a) GDPR",
            "data_categories": ["email"],
            "recipients": [],
            "withdrawal_channels": ["unsubscribe_link", "privacy_center"],
            "state": "consent was withdrawn",
            "valid": False,
        }
    ]
    assert receipt["parties"] == [
        {"role": "controller", "name": 'SIA "Zaļā Pļava"', "contact": "privacy@zala-plava.example"}
    ]
    events = receipt["events"]
    assert isinstance(events, list)
    assert [(e["seq"], e["type"], e["event_id"]) for e in events] == [
        (given.seq, "given", given.event_id),
        (withdrawn.seq, "withdrawn", withdrawn.event_id),
    ]
    assert events[0]["purpose_hash"] == given.purpose_hash
    assert events[0]["time"] == format_time(START)
    text = json.dumps(receipt, ensure_ascii=False)
    for secret in ("ana.berzina", "20000002", RAW_IP, "203.0.113"):
        assert secret not in text


# -- the fast paths decide as the plain ones ------------------------------------------


MOMENTS = (
    timedelta(days=-7),
    timedelta(0),
    timedelta(minutes=45),
    timedelta(hours=1, minutes=30),
    timedelta(days=2),
    timedelta(days=400),
)


def plain_decision(steward: Steward, subject_id: str, purpose: str, at: datetime) -> Decision:
    """The decision from the store's four plain queries in one transaction."""
    with steward.store.reading() as tx:
        rule = load_active_policy(tx).rules[purpose]
        facts = SubjectFacts(
            consent=tx.latest_consent(subject_id, purpose, at),
            objections=tuple(tx.objections_of(subject_id)),
            restriction=tx.restriction_of(subject_id),
        )
    return decide(rule, facts, at)


def test_warm_decisions_at_other_moments_equal_deciding_on_the_loaded_facts(
    steward: Steward,
) -> None:
    """The cache keeps one decision per fact for the interval it holds; any
    moment, inside or outside that interval, must give what ``decide`` gives
    on the same facts."""
    ids = populate(steward)
    loaded_at = START + timedelta(minutes=45)
    with steward.store.reading() as tx:
        rules = load_active_policy(tx).rules
        consents = tx.latest_consents(ids, loaded_at)
        objections = tx.objections_for(ids)
        restricted = tx.restrictions_for(ids)
    for decide_now in (True, False):
        warm = DecisionCache(rules, loaded_at)
        warm.load(steward.store, ids, loaded_at, decide_now=decide_now)
        for offset in MOMENTS:
            at = START + offset
            for subject_id in ids:
                for purpose in ("orders", "newsletter"):
                    facts = SubjectFacts(
                        consent=consents.get((subject_id, purpose)),
                        objections=tuple(objections.get(subject_id, ())),
                        restriction=restricted.get(subject_id),
                    )
                    expected = decide(rules[purpose], facts, at)
                    assert warm.may_process(subject_id, purpose, at) == expected, (
                        subject_id,
                        purpose,
                        offset,
                    )


def test_one_statement_decisions_equal_the_plain_queries(steward: Steward) -> None:
    ids = populate(steward)
    for offset in MOMENTS:
        at = START + offset
        for subject_id in ids:
            for purpose in ("orders", "newsletter"):
                assert steward.ledger.check_subject(subject_id, purpose, at) == plain_decision(
                    steward, subject_id, purpose, at
                )


def test_check_many_equals_check_subject_in_order(
    steward: Steward, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches split anywhere (two subjects per query here), pairs repeated
    and out of order, answers in the order asked."""
    monkeypatch.setattr(service_module, "CHECK_BATCH", 2)
    ids = populate(steward)
    at = START + timedelta(minutes=45)
    pairs = [(s, p) for s in ids for p in ("newsletter", "orders")]
    pairs += list(reversed(pairs[:7]))
    many = steward.ledger.check_many(pairs, at)
    assert many == [steward.ledger.check_subject(s, p, at) for s, p in pairs]
    for decide_now in (True, False):
        warm = steward.ledger.warm_cache(ids, at, decide_now=decide_now)
        assert [warm.may_process(s, p, at) for s, p in pairs] == many
    with pytest.raises(NotFound, match="did you mean 'newsletter'"):
        steward.ledger.check_many([(ids[0], "newsleter")], at)


def test_check_subject_notices_a_newly_applied_policy(steward: Steward) -> None:
    """The one-statement path compares the policy key it reads with the
    compiled policy; a new version is loaded before deciding."""
    subject_id = steward.give(ANA).subject_id
    assert steward.ledger.check_subject(subject_id, "newsletter").allowed
    steward.clock.advance(timedelta(days=1))
    steward.apply(policy_variant(NEW_RECIPIENT))
    stale = steward.ledger.check_subject(subject_id, "newsletter")
    assert not stale.allowed
    assert "stale" in stale.reason
    with pytest.raises(NotFound, match="did you mean 'newsletter'"):
        steward.ledger.check_subject(subject_id, "newsleter")


# -- group commit ---------------------------------------------------------------------------


def test_concurrent_calls_are_committed_together_and_each_gets_its_own_answer(
    steward: Steward,
) -> None:
    """Many threads record at once: every call returns its own records (or
    its own error), nothing is lost or doubled, and the chain stays intact."""
    people = [f"email:grupa{i}@example.lv" for i in range(12)]
    for who in people:
        steward.give(who)
    barrier = threading.Barrier(len(people) + 1)
    answers: dict[str, object] = {}

    def worker(who: str, index: int) -> None:
        barrier.wait()
        ledger = steward.ledger
        try:
            if index % 4 == 3:  # a bad call in the crowd fails alone
                ledger.give(steward.identity(who), "newsleter", channel=Channel.API, actor="t")
            for purpose in ("newsletter", "newsletter"):
                ledger.withdraw(steward.identity(who), purpose, channel=Channel.API, actor="t")
        except Exception as exc:  # recorded and checked below
            answers[who] = exc
        else:
            answers[who] = "withdrawn twice"

    threads = [threading.Thread(target=worker, args=(w, i)) for i, w in enumerate(people)]
    for t in threads:
        t.start()
    barrier.wait()
    for t in threads:
        t.join()
    for i, who in enumerate(people):
        outcome = answers[who]
        if i % 4 == 3:
            assert isinstance(outcome, NotFound)
            assert steward.ledger.check(steward.identity(who), "newsletter").allowed
        else:  # the second withdrawal saw the first one, whatever the grouping
            assert isinstance(outcome, Conflict), outcome
            assert "withdrawn" in str(outcome)
            assert not steward.ledger.check(steward.identity(who), "newsletter").allowed
    history = [len(steward.ledger.history(steward.identity(who), "newsletter")) for who in people]
    assert history == [1 if i % 4 == 3 else 2 for i in range(len(people))]
    assert_chains_intact(steward)


def test_a_group_records_dependent_calls_after_its_commit(steward: Steward) -> None:
    """Within one group, a withdrawal that reads a consent given by an
    earlier call of the same group waits for that group's commit; a refused
    call writes nothing and leaves the others alone."""
    ledger = steward.ledger
    now = steward.clock.now()

    def call(who: str, kind: ConsentKind) -> Pending[_Call, list[ConsentRecord]]:
        request = ConsentRequest(steward.identity(who), "newsletter", kind, Channel.FORM)
        return Pending(_Call([request], "t", now))

    given = call(ANA, ConsentKind.GIVEN)
    withdrawn = call(ANA, ConsentKind.WITHDRAWN)
    refused = call(BOB, ConsentKind.WITHDRAWN)
    ledger._commit([given, withdrawn, refused])
    assert all(p.done for p in (given, withdrawn, refused))
    assert given.error is None and withdrawn.error is None
    assert isinstance(refused.error, NotFound)
    assert given.result is not None and withdrawn.result is not None
    assert [r.kind for r in given.result + withdrawn.result] == [
        ConsentKind.GIVEN,
        ConsentKind.WITHDRAWN,
    ]
    assert withdrawn.result[0].seq == given.result[0].seq + 1
    assert not ledger.check(steward.identity(ANA), "newsletter").allowed
    assert_chains_intact(steward)


def test_event_ids_are_time_ordered_uuids() -> None:
    ids = [new_event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    stamps = [u.int >> 80 for u in parsed]
    assert stamps == sorted(stamps)
