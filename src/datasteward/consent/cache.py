"""Warm decisions: the facts of many subjects held in memory, for hot paths
such as a mail-out or an analytics pipeline that asks "may we?" per person.

The cache is loaded in bulk (one query per fact kind per batch of subjects)
and answers with the same :func:`decide` as the cold path, so warm and cold
can never disagree on the same facts. Facts can go stale: a process that
records events through :class:`ConsentLedger` should call :meth:`forget`,
and long-lived caches should be reloaded (``loaded_at`` says when)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from datasteward.consent.decisions import Decision, decide
from datasteward.consent.model import PurposeRule, SubjectFacts
from datasteward.errors import NotFound
from datasteward.policy.references import did_you_mean
from datasteward.ports import EngineStore

__all__ = ["DecisionCache"]

_EMPTY = SubjectFacts()
BATCH = 1000


class DecisionCache:
    """Facts per (subject, purpose), decided in memory."""

    def __init__(self, rules: dict[str, PurposeRule], loaded_at: datetime) -> None:
        self.rules = rules
        self.loaded_at = loaded_at
        self._facts: dict[tuple[str, str], SubjectFacts] = {}
        self._shared: dict[str, SubjectFacts] = {}

    def __len__(self) -> int:
        return len(self._facts)

    def may_process(self, subject_id: str, purpose_id: str, at: datetime) -> Decision:
        """Decide from memory. Facts not loaded count as "nothing recorded"."""
        rule = self.rules.get(purpose_id)
        if rule is None:
            raise NotFound("purpose", purpose_id, did_you_mean(purpose_id, self.rules))
        facts = self._facts.get((subject_id, purpose_id))
        if facts is None:
            facts = self._shared.get(subject_id, _EMPTY)
        return decide(rule, facts, at)

    def forget(self, subject_id: str) -> None:
        """Drop what is known about one subject (after recording an event for them)."""
        self._shared.pop(subject_id, None)
        for purpose_id in self.rules:
            self._facts.pop((subject_id, purpose_id), None)

    def load(self, store: EngineStore, subject_ids: Iterable[str], at: datetime) -> int:
        """Load the facts of ``subject_ids`` as of ``at``, in batches. Returns
        the number of subjects loaded."""
        count = 0
        batch: list[str] = []
        for subject_id in subject_ids:
            batch.append(subject_id)
            if len(batch) >= BATCH:
                count += self._load_batch(store, batch, at)
                batch = []
        if batch:
            count += self._load_batch(store, batch, at)
        return count

    def _load_batch(self, store: EngineStore, subject_ids: Sequence[str], at: datetime) -> int:
        with store.reading() as tx:
            consents = tx.latest_consents(subject_ids, at)
            objections = tx.objections_for(subject_ids)
            restrictions = tx.restrictions_for(subject_ids)
        for subject_id in subject_ids:
            shared = SubjectFacts(
                objections=tuple(objections.get(subject_id, ())),
                restriction=restrictions.get(subject_id),
            )
            self._shared[subject_id] = shared
        for (subject_id, purpose_id), record in consents.items():
            shared = self._shared[subject_id]
            self._facts[(subject_id, purpose_id)] = SubjectFacts(
                consent=record, objections=shared.objections, restriction=shared.restriction
            )
        return len(subject_ids)
