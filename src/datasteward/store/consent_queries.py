"""The consent and decision queries of the SQL engine store, built once.

Written in SQLAlchemy Core (every value a bound parameter) and compiled once
per dialect into :class:`~datasteward.store.engine.Prepared` statements run on
the driver's cursor: for the hottest reads SQLAlchemy's per-execution work
costs more than the query. Also the converters from their result rows to
the consent model's values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, desc, func, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine.interfaces import Dialect

from datasteward.consent.model import (
    ConsentKind,
    ConsentRecord,
    Objection,
    ObjectionScope,
    ObjectionStatus,
    Restriction,
    SubjectFacts,
)
from datasteward.legaltime.instants import parse_time
from datasteward.store.engine import Prepared
from datasteward.store.tables import (
    consent_events,
    identities,
    objections,
    policy_versions,
    restrictions,
)

__all__ = [
    "CONSENT_COLUMNS",
    "Statements",
    "consent_from_mapping",
    "consent_from_tuple",
    "decision_facts_from_rows",
    "objection_from_tuple",
    "statements",
]

CONSENT_COLUMNS = (
    consent_events.c.seq,
    consent_events.c.event_id,
    consent_events.c.subject_id,
    consent_events.c.purpose_id,
    consent_events.c.kind,
    consent_events.c.occurred_at,
    consent_events.c.expires_at,
    consent_events.c.policy_version,
    consent_events.c.purpose_hash,
    consent_events.c.notice_hash,
    consent_events.c.channel,
    consent_events.c.actor,
)


# Hot statements, written once in Core and compiled once per dialect (see
# ``engine.Prepared``). A list of ids is one parameter: a JSON array read with
# ``json_each`` on SQLite, an array with ``= ANY`` on PostgreSQL, so the SQL
# text stays the same whatever the batch size.
_C = consent_events
_POLICY_KEY = (
    select(policy_versions.c.id, policy_versions.c.sha256)
    .order_by(desc(policy_versions.c.id))
    .limit(1)
)
_LATEST = (
    select(*CONSENT_COLUMNS)
    .where(
        _C.c.subject_id == bindparam("sid"),
        _C.c.purpose_id == bindparam("pid"),
        _C.c.occurred_at <= bindparam("at"),
    )
    .order_by(desc(_C.c.occurred_at), desc(_C.c.seq))
    .limit(1)
)
_OBJECTION_COLUMNS = (
    objections.c.id,
    objections.c.subject_id,
    objections.c.scope,
    objections.c.purpose_id,
    objections.c.status,
    objections.c.created_at,
)
_OBJECTIONS_OF = (
    select(*_OBJECTION_COLUMNS)
    .where(objections.c.subject_id == bindparam("sid"))
    .order_by(objections.c.created_at, objections.c.id)
)
_RESTRICTION_OF = (
    select(restrictions.c.id, restrictions.c.since)
    .where(restrictions.c.subject_id == bindparam("sid"), restrictions.c.lifted_at.is_(None))
    .order_by(restrictions.c.since, restrictions.c.id)
    .limit(1)
)


def _decision_facts_statement() -> Any:
    """Everything one decision reads, as one statement (one snapshot, one
    round trip): the active policy's key, the latest consent event for the
    purpose up to the moment, the earliest unlifted restriction and every
    objection (one row each; the other parts repeat on every row)."""
    policy = _POLICY_KEY.subquery("pv")
    latest = _LATEST.subquery("c")
    restriction = _RESTRICTION_OF.subquery("r")
    objection = objections.alias("o")
    return (
        select(
            policy.c.id,
            policy.c.sha256,
            *latest.c,
            restriction.c.id,
            restriction.c.since,
            objection.c.id,
            objection.c.scope,
            objection.c.purpose_id,
            objection.c.status,
            objection.c.created_at,
        )
        .select_from(
            policy.outerjoin(latest, true())
            .outerjoin(restriction, true())
            .outerjoin(objection, objection.c.subject_id == bindparam("sid"))
        )
        .order_by(objection.c.created_at, objection.c.id)
    )


def _one_of(column: Any, name: str, dialect: str) -> Any:
    """``column IN (the list bound as parameter ``name``)``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(String)))
    values = func.json_each(bindparam(name, type_=String)).table_valued("value")
    return column.in_(select(values.c.value))


class Statements:
    """The hot statements of one dialect, prepared."""

    def __init__(self, dialect: Dialect) -> None:
        name = dialect.name
        self.list_param: Any = list if name == "postgresql" else _json_list
        self.policy_key = Prepared(_POLICY_KEY, dialect)
        self.latest = Prepared(_LATEST, dialect)
        self.objections_of = Prepared(_OBJECTIONS_OF, dialect)
        self.restriction_of = Prepared(_RESTRICTION_OF, dialect)
        self.decision_facts = Prepared(_decision_facts_statement(), dialect)
        self.latest_many = Prepared(
            select(*CONSENT_COLUMNS)
            .where(_one_of(_C.c.subject_id, "ids", name), _C.c.occurred_at <= bindparam("at"))
            .order_by(_C.c.occurred_at, _C.c.seq),
            dialect,
        )
        self.objections_for = Prepared(
            select(*_OBJECTION_COLUMNS)
            .where(_one_of(objections.c.subject_id, "ids", name))
            .order_by(objections.c.created_at, objections.c.id),
            dialect,
        )
        self.restrictions_for = Prepared(
            select(restrictions.c.id, restrictions.c.subject_id, restrictions.c.since)
            .where(
                _one_of(restrictions.c.subject_id, "ids", name),
                restrictions.c.lifted_at.is_(None),
            )
            .order_by(restrictions.c.since, restrictions.c.id),  # the earliest, as restriction_of
            dialect,
        )
        self.find_subjects = Prepared(
            select(identities.c.blind_index, identities.c.subject_id).where(
                identities.c.kind == bindparam("kind"),
                _one_of(identities.c.blind_index, "indexes", name),
            ),
            dialect,
        )


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


_STATEMENTS: dict[str, Statements] = {}


def statements(dialect: Dialect) -> Statements:
    found = _STATEMENTS.get(dialect.name)
    if found is None:
        found = _STATEMENTS[dialect.name] = Statements(dialect)
    return found


def consent_from_mapping(row: Any) -> ConsentRecord:
    return ConsentRecord(
        seq=int(row.seq),
        event_id=row.event_id,
        subject_id=row.subject_id,
        purpose_id=row.purpose_id,
        kind=ConsentKind(row.kind),
        occurred_at=parse_time(row.occurred_at),
        expires_at=parse_time(row.expires_at) if row.expires_at else None,
        policy_version=int(row.policy_version),
        purpose_hash=row.purpose_hash,
        notice_hash=row.notice_hash,
        channel=row.channel,
        actor=row.actor,
    )


_KINDS = {kind.value: kind for kind in ConsentKind}
_SCOPES = {scope.value: scope for scope in ObjectionScope}
_STATUSES = {status.value: status for status in ObjectionStatus}


def _instant(text: str) -> datetime:
    """``parse_time`` for the hot read paths, as strict: Python reads the
    ``Z`` itself, which saves attaching the time zone afterwards."""
    if len(text) != 27 or text[-1] != "Z" or text[10] != "T":
        return parse_time(text)  # raises with the engine's message
    return datetime.fromisoformat(text)


def consent_from_tuple(row: Sequence[Any]) -> ConsentRecord:
    """:func:`_consent_record` from the columns of ``CONSENT_COLUMNS`` by position."""
    kind = _KINDS.get(row[4])
    return ConsentRecord(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        ConsentKind(row[4]) if kind is None else kind,
        _instant(row[5]),
        _instant(row[6]) if row[6] else None,
        int(row[7]),
        row[8],
        row[9],
        row[10],
        row[11],
    )


def objection_from_tuple(r: Sequence[Any]) -> Objection:
    """An objection from the columns of ``_OBJECTION_COLUMNS`` by position."""
    scope, status = _SCOPES.get(r[2]), _STATUSES.get(r[4])
    return Objection(
        ref=r[0],
        scope=ObjectionScope(r[2]) if scope is None else scope,
        purpose_id=r[3],
        status=ObjectionStatus(r[4]) if status is None else status,
        at=_instant(r[5]),
    )


def decision_facts_from_rows(
    rows: Sequence[Sequence[Any]],
) -> tuple[tuple[int, str] | None, SubjectFacts]:
    """The policy key and the facts from the rows of ``Statements.decision_facts``."""
    if not rows:
        return None, SubjectFacts()
    first = rows[0]
    consent = None if first[2] is None else consent_from_tuple(first[2:14])
    restriction = (
        None if first[14] is None else Restriction(ref=first[14], since=_instant(first[15]))
    )
    found = tuple(objection_from_tuple((r[16], None, *r[17:21])) for r in rows if r[16] is not None)
    return (int(first[0]), str(first[1])), SubjectFacts(consent, found, restriction)
