"""Warm decisions: the facts of many subjects held in memory, for hot paths
such as a mail-out or an analytics pipeline that asks "may we?" per person.

The cache is loaded in bulk (one query per fact kind per batch of subjects)
and answers with the same :func:`decide` as the cold path, so warm and cold
can never disagree on the same facts. Facts can go stale: a process that
records events through :class:`ConsentLedger` should call :meth:`forget`,
and long-lived caches should be reloaded (``loaded_at`` says when).

Why it is fast: a decision depends on the moment only through comparisons
with the instants in the facts (a restriction's start, objections, the
consent event and its expiry), so it is the same between two consecutive
such instants. Loading decides once for ``loaded_at`` and keeps, per
(subject, purpose), that :class:`Decision` with the interval it holds for;
a question inside the interval is a dictionary lookup and two comparisons,
any other moment is decided anew from the kept facts. Subjects with nothing
recorded for a purpose share one decision per purpose. Decisions are
therefore shared between callers: treat them, evidence included, as
read-only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from datasteward.consent.decisions import Decision, decide
from datasteward.consent.model import (
    ConsentRecord,
    Objection,
    PurposeRule,
    Restriction,
    SubjectFacts,
)
from datasteward.errors import NotFound
from datasteward.policy.references import did_you_mean
from datasteward.ports import EngineStore

__all__ = ["DecisionCache"]

_EMPTY = SubjectFacts()
BATCH = 1000
_DAWN = datetime.min.replace(tzinfo=UTC)
_NEVER = datetime.max.replace(tzinfo=UTC)

# (valid from, valid until (excluded), the decision then, the facts for any other moment)
_Entry = tuple[datetime, datetime, Decision, SubjectFacts]


def _instants(facts: SubjectFacts) -> list[datetime]:
    """Every instant at which ``decide`` on these facts may change its answer."""
    found = [o.at for o in facts.objections]
    if facts.restriction is not None:
        found.append(facts.restriction.since)
    if facts.consent is not None:
        found.append(facts.consent.occurred_at)
        if facts.consent.expires_at is not None:
            found.append(facts.consent.expires_at)
    return found


def _entry(rule: PurposeRule, facts: SubjectFacts, at: datetime) -> _Entry:
    """The decision at ``at`` and the interval [from, until) it holds for."""
    start, end = _DAWN, _NEVER
    for instant in _instants(facts):
        if instant <= at:
            start = max(start, instant)
        else:
            end = min(end, instant)
    return start, end, decide(rule, facts, at), facts


class DecisionCache:
    """Facts per (subject, purpose), decided in memory."""

    def __init__(self, rules: dict[str, PurposeRule], loaded_at: datetime) -> None:
        self.rules = rules
        self.loaded_at = loaded_at
        # Nothing recorded: the answer depends on the purpose alone, at any moment.
        self._default = {pid: decide(rule, _EMPTY, loaded_at) for pid, rule in rules.items()}
        self._entries: dict[str, dict[str, _Entry]] = {pid: {} for pid in rules}
        # Facts kept but not decided yet (``load(..., decide_now=False)``).
        self._pending: dict[str, dict[str, SubjectFacts]] = {pid: {} for pid in rules}
        self._consents: set[tuple[str, str]] = set()
        self._empty = True

    def __len__(self) -> int:
        """How many (subject, purpose) consent facts are loaded."""
        return len(self._consents)

    def may_process(self, subject_id: str, purpose_id: str, at: datetime) -> Decision:
        """Decide from memory. Facts not loaded count as "nothing recorded"."""
        entries = self._entries.get(purpose_id)
        if entries is None:
            raise NotFound("purpose", purpose_id, did_you_mean(purpose_id, self.rules))
        entry = entries.get(subject_id)
        if entry is None:
            facts = self._pending[purpose_id].get(subject_id)
            if facts is None:
                return self._default[purpose_id]
            # kept in both maps: threads sharing the cache may ask at once
            entry = entries[subject_id] = _entry(self.rules[purpose_id], facts, self.loaded_at)
        start, end, decision, facts = entry
        if start <= at < end:
            return decision
        return decide(self.rules[purpose_id], facts, at)

    def forget(self, subject_id: str) -> None:
        """Drop what is known about one subject (after recording an event for them)."""
        for purpose_id, entries in self._entries.items():
            entries.pop(subject_id, None)
            self._pending[purpose_id].pop(subject_id, None)
            self._consents.discard((subject_id, purpose_id))

    def load(
        self,
        store: EngineStore,
        subject_ids: Iterable[str],
        at: datetime,
        *,
        batch_size: int | None = None,
        decide_now: bool = True,
    ) -> int:
        """Load the facts of ``subject_ids`` as of ``at``, in batches of
        ``batch_size`` subjects (default :data:`BATCH`). Returns the number
        of subjects loaded.

        ``decide_now`` decides every loaded (subject, purpose) fact while
        loading, so that every later question is a lookup; without it each
        is decided when first asked (for one-off batches that ask about
        only some purposes)."""
        size = batch_size or BATCH
        count = 0
        batch: list[str] = []
        for subject_id in subject_ids:
            batch.append(subject_id)
            if len(batch) >= size:
                count += self._load_batch(store, batch, at, decide_now)
                batch = []
        if batch:
            count += self._load_batch(store, batch, at, decide_now)
        return count

    def _load_batch(
        self, store: EngineStore, subject_ids: Sequence[str], at: datetime, decide_now: bool
    ) -> int:
        with store.reading() as tx:
            consents = tx.latest_consents(subject_ids, at)
            objections = tx.objections_for(subject_ids)
            restrictions = tx.restrictions_for(subject_ids)
        self.add(subject_ids, consents, objections, restrictions, at, decide_now=decide_now)
        return len(subject_ids)

    def add(
        self,
        subject_ids: Sequence[str],
        consents: Mapping[tuple[str, str], ConsentRecord],
        objections: Mapping[str, Sequence[Objection]],
        restrictions: Mapping[str, Restriction],
        at: datetime,
        *,
        decide_now: bool = True,
    ) -> None:
        """Keep the facts of ``subject_ids`` read as of ``at`` (the shapes of
        ``EngineTx.latest_consents``, ``objections_for``, ``restrictions_for``),
        replacing what was known about them."""
        rules = self.rules
        shared: dict[str, SubjectFacts] = {}
        if not self._empty:
            for subject_id in subject_ids:
                self.forget(subject_id)
        self._empty = False
        for subject_id in objections.keys() | restrictions.keys():
            facts = SubjectFacts(
                objections=tuple(objections.get(subject_id) or ()),
                restriction=restrictions.get(subject_id),
            )
            shared[subject_id] = facts
            for purpose_id in rules:
                self._keep(purpose_id, subject_id, facts, at, decide_now)
        for (subject_id, purpose_id), record in consents.items():
            if purpose_id not in rules:  # a purpose the active policy no longer declares
                continue
            base = shared.get(subject_id, _EMPTY)
            facts = SubjectFacts(
                consent=record, objections=base.objections, restriction=base.restriction
            )
            self._keep(purpose_id, subject_id, facts, at, decide_now)
            self._consents.add((subject_id, purpose_id))

    def _keep(
        self, purpose_id: str, subject_id: str, facts: SubjectFacts, at: datetime, now: bool
    ) -> None:
        if now:
            self._entries[purpose_id][subject_id] = _entry(self.rules[purpose_id], facts, at)
        else:
            self._entries[purpose_id].pop(subject_id, None)
            self._pending[purpose_id][subject_id] = facts
