"""The consent ledger's use cases: give, withdraw, refuse, object by signal,
check, history.

Every event is appended to the hash-chained ``consent_events`` table in the
same transaction as anything else it changes, bound to the policy version
and to the purpose's consent hash. Bad input (unknown purpose, a purpose that
does not rest on consent, nothing to withdraw, a time in the future) raises
before anything is written."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from datasteward.clock import Clock
from datasteward.consent.cache import DecisionCache
from datasteward.consent.decisions import Decision, decide
from datasteward.consent.event_ids import new_event_id
from datasteward.consent.group_commit import GroupCommitter, Pending
from datasteward.consent.model import (
    Channel,
    ConsentKind,
    ConsentRecord,
    Objection,
    ObjectionScope,
    ObjectionStatus,
    SubjectFacts,
)
from datasteward.consent.source import SourceDetails
from datasteward.crypto import seal
from datasteward.errors import Conflict, InvalidInput, NotFound
from datasteward.identity import Identity
from datasteward.legaltime.instants import format_time
from datasteward.policy.active import ActivePolicy, ActivePolicyCache
from datasteward.ports import EngineStore, EngineTx
from datasteward.subjects.service import SubjectDirectory

__all__ = ["CHECK_BATCH", "ConsentLedger", "ConsentRequest", "DecisionFactsSource"]

CHECK_BATCH = 2000
"""Subjects whose facts :meth:`ConsentLedger.check_many` reads per query."""


@runtime_checkable
class DecisionFactsSource(Protocol):
    """A store that reads what one decision needs in one statement: the
    active policy's (version, sha256) and the subject's facts for the
    purpose, from one snapshot. :meth:`ConsentLedger.check_subject` uses it
    when the store offers it; without it a decision is a read transaction
    of four queries."""

    def decision_facts(
        self, subject_id: str, purpose_id: str, at: datetime
    ) -> tuple[tuple[int, str] | None, SubjectFacts]: ...


@dataclass(frozen=True)
class ConsentRequest:
    """One consent event to record (for :meth:`ConsentLedger.record_many`)."""

    identity: Identity
    purpose_id: str
    kind: ConsentKind
    channel: Channel
    source: SourceDetails | None = None
    notice_hash: str | None = None
    occurred_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class _Call:
    """One :meth:`ConsentLedger.record_many` call, as queued for a group."""

    requests: list[ConsentRequest]
    actor: str
    now: datetime


_Pending = Pending[_Call, list[ConsentRecord]]


class ConsentLedger:
    """Consent use cases over the engine store."""

    def __init__(self, store: EngineStore, directory: SubjectDirectory, clock: Clock) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.policies = ActivePolicyCache()
        self._facts_source = store if isinstance(store, DecisionFactsSource) else None
        self._active: ActivePolicy | None = None
        self._group: GroupCommitter[_Call, list[ConsentRecord]] = GroupCommitter(self._commit)

    # -- writing -----------------------------------------------------------

    def give(
        self,
        identity: Identity,
        purpose_id: str,
        *,
        channel: Channel,
        actor: str,
        source: SourceDetails | None = None,
        notice_hash: str | None = None,
        occurred_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> ConsentRecord:
        request = ConsentRequest(
            identity,
            purpose_id,
            ConsentKind.GIVEN,
            channel,
            source,
            notice_hash,
            occurred_at,
            expires_at,
        )
        return self.record_many([request], actor=actor)[0]

    def withdraw(
        self,
        identity: Identity,
        purpose_id: str,
        *,
        channel: Channel,
        actor: str,
        source: SourceDetails | None = None,
        occurred_at: datetime | None = None,
    ) -> ConsentRecord:
        request = ConsentRequest(
            identity, purpose_id, ConsentKind.WITHDRAWN, channel, source, None, occurred_at
        )
        return self.record_many([request], actor=actor)[0]

    def refuse(
        self,
        identity: Identity,
        purpose_id: str,
        *,
        channel: Channel,
        actor: str,
        source: SourceDetails | None = None,
        occurred_at: datetime | None = None,
    ) -> ConsentRecord:
        request = ConsentRequest(
            identity, purpose_id, ConsentKind.REFUSED, channel, source, None, occurred_at
        )
        return self.record_many([request], actor=actor)[0]

    def record_many(self, requests: Sequence[ConsentRequest], *, actor: str) -> list[ConsentRecord]:
        """Record several events in one transaction (a banner with several
        purposes, an import). All are validated before any is written.

        Calls from several threads at once are committed together (group
        commit): while one transaction commits, the calls that arrive queue
        up, and the next caller to get the turn records all of them in one
        transaction, one chain extension and one commit. Each call still
        returns only after the transaction holding its events committed,
        keeps its own all-or-nothing validation and error, and a call that
        reads what an earlier call of the same group wrote (a withdrawal
        after a consent given a moment before) is recorded after that
        group's commit instead. See ``docs/consent.md``."""
        return self._group.submit(_Call(list(requests), actor, self.clock.now()))

    def _commit(self, group: list[_Pending]) -> None:
        """Record a group of calls (by the caller whose turn it is)."""
        if len(group) > 1:
            try:
                later = self._commit_together(group)
            except Exception:  # the shared transaction rolled back: each on its own
                later = [p for p in group if not p.done]
        else:
            later = group
        for pending in later:
            try:
                pending.result = self._record_alone(pending.work)
            except Exception as exc:
                pending.error = exc
            pending.done = True

    def _record_alone(self, call: _Call) -> list[ConsentRecord]:
        requests, now = call.requests, call.now
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            known = self.directory.find_many(tx, [r.identity for r in requests])
            for request in requests:  # every check before the first write
                self._check(tx, active, request, now, known)
            rows = [self._row(tx, active, request, now, call.actor, known) for request in requests]
            linked = tx.append_consent(rows)
        return self._records(active, call, linked)

    def _commit_together(self, group: list[_Pending]) -> list[_Pending]:
        """One transaction for the group; returns the calls left for later.
        Refused calls get their error and write nothing; the others' rows
        are appended in one go."""
        accepted: list[tuple[_Pending, int]] = []
        later: list[_Pending] = []
        rows: list[dict[str, object]] = []
        touched: set[str] = set()
        created: set[Identity] = set()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            known = self.directory.find_many(
                tx, [r.identity for p in group for r in p.work.requests]
            )
            for pending in group:
                call = pending.work
                if any(
                    r.kind is not ConsentKind.GIVEN
                    and (r.identity in created or known.get(r.identity) in touched)
                    for r in call.requests
                ):
                    later.append(pending)  # it reads what this group writes
                    continue
                try:
                    for request in call.requests:
                        self._check(tx, active, request, call.now, known)
                except (InvalidInput, NotFound, Conflict) as exc:
                    pending.error, pending.done = exc, True
                    continue
                for request in call.requests:
                    new = request.identity not in known
                    rows.append(self._row(tx, active, request, call.now, call.actor, known))
                    if new:
                        created.add(request.identity)
                    touched.add(known[request.identity])
                accepted.append((pending, len(call.requests)))
            linked = tx.append_consent(rows)
        start = 0
        for pending, count in accepted:
            pending.result = self._records(active, pending.work, linked[start : start + count])
            pending.done = True
            start += count
        return later

    @staticmethod
    def _records(
        active: ActivePolicy, call: _Call, linked: Sequence[dict[str, object]]
    ) -> list[ConsentRecord]:
        now = call.now
        return [
            ConsentRecord(
                seq=int(str(row["seq"])),
                event_id=str(row["event_id"]),
                subject_id=str(row["subject_id"]),
                purpose_id=str(row["purpose_id"]),
                kind=ConsentKind(str(row["kind"])),
                occurred_at=request.occurred_at or now,
                expires_at=_expiry(active, request, now),
                policy_version=active.version,
                purpose_hash=str(row["purpose_hash"]),
                notice_hash=request.notice_hash,
                channel=request.channel.value,
                actor=call.actor,
            )
            for row, request in zip(linked, call.requests, strict=True)
        ]

    def _check(
        self,
        tx: EngineTx,
        active: ActivePolicy,
        request: ConsentRequest,
        now: datetime,
        known: dict[Identity, str],
    ) -> None:
        """Refuse a request that cannot be recorded; reads only, writes nothing.

        Run for every request of a batch before any row is built, because
        building a row for a new person writes their data key to the key
        store, which a rolled-back transaction would not take back."""
        purpose = active.purpose(request.purpose_id)
        if "consent" not in active.rules[purpose.id].bases:
            bases = ", ".join(b.value for b in purpose.legal_bases) or "no basis"
            raise InvalidInput(
                f"purpose '{purpose.id}' rests on {bases}, not consent; "
                "consent cannot be given, refused or withdrawn for it"
            )
        when = request.occurred_at or now
        if when > now:
            raise InvalidInput(f"the event time {format_time(when)} is in the future")
        if request.expires_at is not None and request.expires_at <= when:
            raise InvalidInput("the expiry must be later than the event")
        if request.source is not None:
            request.source.minimised()  # refuses an IP address that is not one
        if request.kind is ConsentKind.GIVEN:
            return
        subject_id = known.get(request.identity)
        if subject_id is None:
            raise NotFound("subject", request.identity.masked())
        if request.kind is ConsentKind.WITHDRAWN:
            latest = tx.latest_consent(subject_id, purpose.id, when)
            if latest is None or latest.kind is not ConsentKind.GIVEN:
                state = "never given" if latest is None else latest.kind.value
                raise Conflict(
                    f"nothing to withdraw: consent to '{purpose.id}' is {state} for this subject"
                )

    def _row(
        self,
        tx: EngineTx,
        active: ActivePolicy,
        request: ConsentRequest,
        now: datetime,
        actor: str,
        known: dict[Identity, str],
    ) -> dict[str, object]:
        purpose = active.purpose(request.purpose_id)
        when = request.occurred_at or now
        subject_id = known.get(request.identity)
        if subject_id is None:  # a new person: created once, reused by later requests
            subject_id, _ = self.directory.resolve(tx, request.identity, actor=actor)
            known[request.identity] = subject_id
        event_id = new_event_id()
        source_enc = None
        if request.source is not None:
            source_enc = seal(
                self.directory.data_key(subject_id),
                request.source.minimised().to_json(),
                aad=f"consent-source:{event_id}".encode(),
            )
        expiry = _expiry(active, request, now)
        return {
            "event_id": event_id,
            "subject_id": subject_id,
            "purpose_id": purpose.id,
            "kind": request.kind.value,
            "occurred_at": format_time(when),
            "expires_at": format_time(expiry) if expiry else None,
            "policy_version": active.version,
            "purpose_hash": active.rules[purpose.id].consent_hash,
            "notice_hash": request.notice_hash,
            "channel": request.channel.value,
            "source_enc": source_enc,
            "actor": actor,
        }

    def record_expiries(self, *, actor: str, batch: int = 1000) -> int:
        """Append an "expired" event for every consent whose expiry has passed
        and that nothing has superseded. Decisions already treat such consent
        as expired; this makes the ledger say so too. Safe to run repeatedly."""
        total = 0
        while True:
            now = self.clock.now()
            with self.store.transaction() as tx:
                lapsed = tx.lapsed_consents(now, batch)
                if not lapsed:
                    return total
                rows: list[dict[str, object]] = [
                    {
                        "event_id": new_event_id(),
                        "subject_id": r.subject_id,
                        "purpose_id": r.purpose_id,
                        "kind": ConsentKind.EXPIRED.value,
                        "occurred_at": format_time(r.expires_at or now),
                        "expires_at": None,
                        "policy_version": r.policy_version,
                        "purpose_hash": r.purpose_hash,
                        "notice_hash": None,
                        "channel": Channel.STAFF.value,
                        "source_enc": None,
                        "actor": actor,
                    }
                    for r in lapsed
                ]
                tx.append_consent(rows)
            total += len(rows)

    def record_gpc(self, identity: Identity, *, actor: str) -> Objection:
        """A Global Privacy Control signal: an objection by automated means
        (Art. 21(5)) to direct marketing and to sharing with other controllers."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            subject_id, _ = self.directory.resolve(tx, identity, actor=actor)
            objection = Objection(
                ref=str(uuid.uuid4()),
                scope=ObjectionScope.GPC,
                purpose_id=None,
                status=ObjectionStatus.UPHELD,
                at=now,
            )
            tx.insert_objection(objection, subject_id)
            tx.audit(
                at=now,
                actor=actor,
                action="objection.recorded",
                object_type="subject",
                object_id=subject_id,
                reason="Global Privacy Control signal (Art. 21(5))",
                policy_version=active.version,
                details={"objection": objection.ref, "scope": objection.scope.value},
            )
        return objection

    # -- reading -----------------------------------------------------------

    def check(self, identity: Identity, purpose_id: str, at: datetime | None = None) -> Decision:
        """Decide from the store (cold): may we process for this purpose at ``at``?"""
        with self.store.reading() as tx:
            subject_id = self.directory.require(tx, identity)
            return self._decide(tx, subject_id, purpose_id, at or self.clock.now())

    def check_subject(
        self, subject_id: str, purpose_id: str, at: datetime | None = None
    ) -> Decision:
        """Decide from the store (cold) for a known subject id.

        With a :class:`DecisionFactsSource` store this is one statement: the
        policy key it returns must be the version the ledger has compiled,
        else (first call, a newly applied policy, an unknown purpose) the
        decision is made again in a read transaction that loads the policy."""
        moment = at or self.clock.now()
        source, active = self._facts_source, self._active
        if source is not None and active is not None:
            rule = active.rules.get(purpose_id)
            if rule is not None:
                key, facts = source.decision_facts(subject_id, purpose_id, moment)
                if key == (active.version, active.sha256):
                    return decide(rule, facts, moment)
        with self.store.reading() as tx:
            return self._decide(tx, subject_id, purpose_id, moment)

    def check_many(
        self, pairs: Sequence[tuple[str, str]], at: datetime | None = None
    ) -> list[Decision]:
        """Decide for many (subject id, purpose) pairs from the store at once:
        three queries per :data:`CHECK_BATCH` subjects instead of one per
        decision. Memory follows the batch, not the number of pairs."""
        moment = at or self.clock.now()
        with self.store.reading() as tx:
            active = self._active = self.policies.get(tx)
        rules = active.rules
        for purpose_id in dict.fromkeys(p for _, p in pairs):
            if purpose_id not in rules:
                active.purpose(purpose_id)  # raises NotFound with a suggestion
        out: list[Decision] = []
        start = 0
        while start < len(pairs):
            subjects: dict[str, None] = {}
            stop = start
            while stop < len(pairs) and (len(subjects) < CHECK_BATCH or pairs[stop][0] in subjects):
                subjects[pairs[stop][0]] = None
                stop += 1
            cache = DecisionCache(rules, moment)
            cache.load(self.store, subjects, moment, batch_size=CHECK_BATCH, decide_now=False)
            may = cache.may_process
            out.extend(may(s, p, moment) for s, p in pairs[start:stop])
            start = stop
        return out

    def warm_cache(
        self, subject_ids: Sequence[str], at: datetime | None = None, *, decide_now: bool = True
    ) -> DecisionCache:
        """A :class:`DecisionCache` loaded with these subjects' facts.

        ``decide_now`` (the default) decides every loaded fact while loading,
        for the fastest questions afterwards; without it the cache keeps only
        the facts and decides each (subject, purpose) when first asked,
        holding no decision or evidence for facts nobody asked about."""
        moment = at or self.clock.now()
        with self.store.reading() as tx:
            active = self.policies.get(tx)
        cache = DecisionCache(active.rules, moment)
        cache.load(self.store, dict.fromkeys(subject_ids), moment, decide_now=decide_now)
        return cache

    def _decide(self, tx: EngineTx, subject_id: str, purpose_id: str, at: datetime) -> Decision:
        active = self._active = self.policies.get(tx)
        purpose = active.purpose(purpose_id)
        facts = SubjectFacts(
            consent=tx.latest_consent(subject_id, purpose.id, at),
            objections=tuple(tx.objections_of(subject_id)),
            restriction=tx.restriction_of(subject_id),
        )
        return decide(active.rules[purpose.id], facts, at)

    def history(self, identity: Identity, purpose_id: str | None = None) -> list[ConsentRecord]:
        with self.store.reading() as tx:
            subject_id = self.directory.require(tx, identity)
            if purpose_id is not None:
                self.policies.get(tx).purpose(purpose_id)
            return tx.consent_events(subject_id, purpose_id)


def _expiry(active: ActivePolicy, request: ConsentRequest, now: datetime) -> datetime | None:
    if request.kind is not ConsentKind.GIVEN:
        return None
    if request.expires_at is not None:
        return request.expires_at
    settings = active.policy.purpose(request.purpose_id).consent
    if settings is not None and settings.expires_after is not None:
        return settings.expires_after.add_to_datetime(request.occurred_at or now)
    return None
