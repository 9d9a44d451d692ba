"""From the policy's retention rules to sweep units. Pure.

Each rule is compiled once per dataset it names, against the reflected
schema of that dataset's system: the anchor column is looked up in the
dataset, or followed through the dataset's declared relations (an address
has no ``closed_at``; its customer has); an anonymising rule's fields get
their erasure operators, validated against their columns; and every way a
due row may be kept becomes a :class:`HoldCheck`:

* a legal hold covering the dataset keeps a row while the hold's own period
  has not run out from the hold's anchor (an empty anchor keeps it too);
* ``outstanding_obligations`` and ``pending_proceedings`` keep a row whose
  ``suspend_column`` is true;
* ``restriction`` keeps a row whose dataset's ``restriction_flag`` is true,
  and the rows of every subject the engine has restricted;
* ``open_request`` keeps the rows of every subject with an open request.

Where the engine cannot tell the kept rows apart (no column to read), every
due row is kept and the plan says why: keeping data too long is visible and
fixable, deleting data the law keeps is not.

A deleting unit also lists the rows of other datasets that point at the
rows it removes (declared relations): deleted first, or unlinked where the
link column may be empty, unless kept themselves, in which case the row
they point at stays too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from datasteward.fulfilment.columns import STRING_KINDS, ColumnInfo, ColumnKind
from datasteward.fulfilment.fields import JoinRule, join_rule, operator_for
from datasteward.fulfilment.locate import locate
from datasteward.identity.kinds import IDENTITY_KINDS
from datasteward.policy.model import (
    ConnectorKind,
    Dataset,
    ErasureAction,
    LegalHold,
    Policy,
    RetentionAction,
    RetentionRule,
    Suspension,
    System,
)
from datasteward.retention.model import (
    Blocked,
    CheckKind,
    ChildStep,
    ColumnPath,
    FieldStep,
    Guard,
    HoldCheck,
    Hop,
    Program,
    SweepUnit,
    UnitAction,
)

__all__ = ["MAX_HOPS", "Schema", "compile_rules"]

Schema = Mapping[str, Mapping[str, Mapping[str, ColumnInfo]]]
"""system id -> dataset name -> column name -> reflected column. A system
that is missing could not be reached; a dataset that is missing has no table."""

MAX_HOPS = 4
"""Relations followed at most to find an anchor or flag column."""

_TIME_KINDS = frozenset({ColumnKind.DATE, ColumnKind.DATETIME})
_KEY_KINDS = STRING_KINDS | {ColumnKind.INTEGER}
_FLAG_KINDS = frozenset({ColumnKind.BOOLEAN, ColumnKind.INTEGER})
_BLOCKING = frozenset({Suspension.OUTSTANDING_OBLIGATIONS, Suspension.PENDING_PROCEEDINGS})


class _Unbuildable(Exception):
    """Internal: one unit cannot be compiled; the message says why."""


def compile_rules(policy: Policy, schema: Schema, *, hash_key: bytes) -> Program:
    """Every sweep unit of ``policy`` that ``schema`` allows, children before
    parents within each rule, and a :class:`Blocked` entry for the rest."""
    units: list[SweepUnit] = []
    blocked: list[Blocked] = []
    unchecked: list[str] = []
    for rule in policy.retention_rules:
        reason = _rule_problem(rule)
        if reason is not None:
            blocked.append(Blocked(rule.id, reason[0], by_hand=reason[1]))
            continue
        found: list[SweepUnit] = []
        for ref in dict.fromkeys((r.system, r.dataset) for r in rule.datasets):
            system = policy.system(ref[0])
            try:
                found.append(_Compiler(policy, rule, system, ref, schema, hash_key).unit())
            except _Unbuildable as problem:
                by_hand = system is not None and system.connector is ConnectorKind.MANUAL
                blocked.append(Blocked(rule.id, str(problem), ref[0], ref[1], by_hand=by_hand))
                if system is not None and not by_hand and ref[0] not in schema:
                    unchecked.append(ref[0])
        units.extend(_children_first(found, policy))
    return Program(tuple(units), tuple(blocked), tuple(dict.fromkeys(unchecked)))


def _rule_problem(rule: RetentionRule) -> tuple[str, bool] | None:
    """Why the rule as a whole cannot be swept (and whether staff carry it out)."""
    if rule.period is None:
        return (
            "the rule gives criteria, not a period, so no sweep can tell when its data "
            "ends; staff apply the criteria",
            True,
        )
    if not rule.datasets:
        return (
            "the rule names no datasets, so the engine cannot find its data; name the "
            "datasets it ends (retention_rules[].datasets) or carry it out by hand",
            True,
        )
    if not rule.anchor.column:
        return (
            f"the anchor '{rule.anchor.event.value}' names no column, so no row's anchor "
            "time can be read; set anchor.column",
            False,
        )
    return None


def _children_first(units: list[SweepUnit], policy: Policy) -> list[SweepUnit]:
    """Units of one rule so that a dataset pointing at another comes first
    (its rows go before the rows they point at)."""
    parents: dict[tuple[str, str], set[str]] = {}
    for unit in units:
        system = policy.system(unit.system)
        dataset = _dataset(system, unit.dataset) if system else None
        found = {r.references.partition(".")[0] for r in dataset.relations} if dataset else set()
        parents[(unit.system, unit.dataset)] = found - {unit.dataset}
    ordered: list[SweepUnit] = []
    pending = list(units)
    while pending:
        ready = [
            u
            for u in pending
            if not any(
                v is not u and v.system == u.system and u.dataset in parents[(v.system, v.dataset)]
                for v in pending
            )
        ] or pending[:1]
        ordered.extend(ready)
        pending = [u for u in pending if u not in ready]
    return ordered


def _dataset(system: System, name: str) -> Dataset | None:
    return next((d for d in system.datasets if d.name == name), None)


class _Compiler:
    """Compiles one rule in one dataset."""

    def __init__(
        self,
        policy: Policy,
        rule: RetentionRule,
        system: System | None,
        ref: tuple[str, str],
        schema: Schema,
        hash_key: bytes,
    ) -> None:
        self.policy = policy
        self.rule = rule
        self.ref = ref
        self.hash_key = hash_key
        if system is None:
            raise _Unbuildable(f"system '{ref[0]}' is not declared")
        if system.connector is ConnectorKind.MANUAL:
            how = system.manual.instructions if system.manual else "no instructions given"
            raise _Unbuildable(f"system '{system.id}' is handled by hand: {how}")
        tables = schema.get(system.id)
        if tables is None:
            raise _Unbuildable(
                f"system '{system.id}' was not checked: its connection URL "
                f"({system.url_env or 'no url_env'}) is not set"
            )
        dataset = _dataset(system, ref[1])
        if dataset is None:
            raise _Unbuildable(f"system '{system.id}' declares no dataset '{ref[1]}'")
        if dataset.name not in tables:
            raise _Unbuildable(f"the table of dataset '{dataset.name}' does not exist")
        self.system = system
        self.dataset = dataset
        self.tables = tables

    # -- the unit ----------------------------------------------------------------------------

    def unit(self) -> SweepUnit:
        rule, dataset = self.rule, self.dataset
        assert rule.period is not None and rule.anchor.column  # checked by _rule_problem
        anchor = self._path(dataset.name, rule.anchor.column)
        if anchor is None:
            raise _Unbuildable(
                f"anchor column '{rule.anchor.column}' is neither in dataset "
                f"'{dataset.name}' nor in a dataset its relations lead to"
            )
        self._require_time(anchor, "anchor column")
        key = self._key(dataset.name)
        action, fields, notes = self._action()
        categories = self._ended_categories(action, fields)
        holds = self._holds(dataset, anchor, categories, own=True)
        children: tuple[ChildStep, ...] = ()
        guards: tuple[Guard, ...] = ()
        if action is UnitAction.DELETE:
            children = tuple(self._children(dataset.name, (), set()))
            guards = tuple(self._guards(dataset.name))
            holds += tuple(
                HoldCheck(
                    CheckKind.CHILDREN,
                    Suspension.LEGAL_HOLD,
                    f"rows of '{child.dataset}' that are kept still point at it",
                    f"kept rows of {child.dataset}",
                    child=child.dataset,
                )
                for child in children
                if len(child.hops) == 1 and child.holds
            )
        if Suspension.LEGAL_HOLD in rule.suspended_by and not any(
            h.kind is CheckKind.LEGAL_HOLD or h.hold_id for h in holds
        ):
            notes += ("suspended by legal holds, but no legal hold covers this dataset",)
        return SweepUnit(
            rule_id=rule.id,
            system=self.system.id,
            dataset=dataset.name,
            table=dataset.table or dataset.name,
            action=action,
            period=rule.period,
            anchor_event=rule.anchor.name or rule.anchor.event.value,
            anchor=anchor,
            key=key,
            description=rule.description or f"{rule.action.value} after {rule.period}",
            fields=fields,
            holds=holds,
            children=children,
            guards=guards,
            notes=notes,
        )

    def _key(self, dataset: str) -> tuple[str, ...]:
        declared = _dataset(self.system, dataset)
        names = tuple(declared.primary_key) if declared else ("id",)
        columns = self.tables.get(dataset, {})
        for name in names:
            info = columns.get(name)
            if info is None:
                raise _Unbuildable(f"key column '{name}' of dataset '{dataset}' does not exist")
            if info.kind not in _KEY_KINDS:
                raise _Unbuildable(
                    f"key column '{name}' of dataset '{dataset}' holds {info.kind.value} "
                    "values; sweeps page through integer or text keys"
                )
        if not names:
            raise _Unbuildable(f"dataset '{dataset}' declares no primary key")
        return names

    # -- what happens to a due row ---------------------------------------------------------------

    def _action(self) -> tuple[UnitAction, tuple[FieldStep, ...], tuple[str, ...]]:
        if self.rule.action is RetentionAction.DELETE:
            return UnitAction.DELETE, (), ()
        dataset = self.dataset
        declared = {f.name: f for f in dataset.fields}
        wanted: list[str] = []
        for name in self.rule.fields:
            owner, dot, field = name.rpartition(".")
            if dot and owner != dataset.name:
                continue
            if field in declared:
                wanted.append(field)
            elif dot:
                raise _Unbuildable(f"dataset '{dataset.name}' declares no field '{field}'")
        if not wanted:
            raise _Unbuildable(
                f"the rule anonymises none of the fields of dataset '{dataset.name}'"
            )
        columns = self.tables[dataset.name]
        steps: list[FieldStep] = []
        problems: list[str] = []
        deleting: list[str] = []
        for name in dict.fromkeys(wanted):
            field_ = declared[name]
            info = columns.get(name)
            if info is None:
                problems.append(f"column '{name}' does not exist")
                continue
            if field_.erasure is ErasureAction.DELETE_ROW:
                deleting.append(name)
                continue
            if field_.erasure is ErasureAction.KEEP:
                problems.append(
                    f"field '{name}' is erased with 'keep', so anonymising cannot end it"
                )
                continue
            try:
                operator = operator_for(field_, hash_key=self.hash_key)
            except ValueError as error:
                problems.append(str(error))
                continue
            problems.extend(str(p) for p in operator.validate(info))
            if join_rule(operator, info) is not JoinRule.NONE:
                problems.append(
                    f"column '{name}' links rows of two tables; a sweep rewrites one "
                    "table at a time and would break the link"
                )
            if not operator.idempotent and info.kind not in STRING_KINDS:
                problems.append(
                    f"{field_.erasure.value} on column '{name}' cannot tell its own "
                    "output from data, so a later sweep would change it again"
                )
            steps.append(FieldStep(name, operator))
        if problems:
            raise _Unbuildable(f"dataset '{dataset.name}': " + "; ".join(problems))
        if deleting:
            note = (
                f"field(s) {', '.join(deleting)} are erased with delete_row, so the "
                "whole row is deleted"
            )
            return UnitAction.DELETE, (), (note,)
        return UnitAction.ANONYMISE, tuple(steps), ()

    def _ended_categories(self, action: UnitAction, fields: Sequence[FieldStep]) -> frozenset[str]:
        names = {f.name for f in fields}
        return frozenset(
            f.category
            for f in self.dataset.fields
            if action is UnitAction.DELETE or f.name in names
        )

    # -- what keeps a due row -----------------------------------------------------------------

    def _holds(
        self, dataset: Dataset, anchor: ColumnPath | None, categories: frozenset[str], *, own: bool
    ) -> tuple[HoldCheck, ...]:
        """Checks for ``dataset``: the unit's own (``own``) or a child's."""
        rule = self.rule
        checks: list[HoldCheck] = []
        for hold in self.policy.legal_holds:
            if self._covers(hold, dataset.name, categories):
                checks.append(self._legal_hold(hold, dataset.name))
        blocking = [s for s in rule.suspended_by if s in _BLOCKING]
        flag = self._flag(dataset.name, blocking, required=own) if blocking else None
        if flag is not None:
            checks.append(flag)
        if Suspension.RESTRICTION in rule.suspended_by:
            checks.extend(self._restriction(dataset, anchor, own=own))
        if own and Suspension.OPEN_REQUEST in rule.suspended_by:
            checks.append(self._subjects(dataset.name, Suspension.OPEN_REQUEST))
        return tuple(checks)

    def _covers(self, hold: LegalHold, dataset: str, categories: frozenset[str]) -> bool:
        if hold.datasets:
            return any(r.system == self.system.id and r.dataset == dataset for r in hold.datasets)
        if hold.data_categories:
            return bool(categories & set(hold.data_categories))
        return hold.id in self.rule.legal_holds

    def _legal_hold(self, hold: LegalHold, dataset: str) -> HoldCheck:
        article = hold.ground.article
        event = hold.anchor.name or hold.anchor.event.value
        kept = f"{hold.law} ({article}) keeps it {hold.period.describe()} after {event}"
        label = f"legal hold {hold.id}"
        path = self._path(dataset, hold.anchor.column) if hold.anchor.column else None
        if path is None or self._kind(dataset, path) not in _TIME_KINDS:
            missing = (
                "names no anchor column"
                if not hold.anchor.column
                else f"anchor column '{hold.anchor.column}' is not a date found from '{dataset}'"
            )
            return HoldCheck(
                CheckKind.ALL,
                Suspension.LEGAL_HOLD,
                f"{kept}; the hold {missing}, so every due row is kept",
                label,
                hold_id=hold.id,
            )
        return HoldCheck(
            CheckKind.LEGAL_HOLD,
            Suspension.LEGAL_HOLD,
            f"{kept} ({path.describe(dataset)})",
            label,
            path=path,
            period=hold.period,
            hold_id=hold.id,
        )

    def _flag(
        self, dataset: str, suspensions: list[Suspension], *, required: bool
    ) -> HoldCheck | None:
        words = " or ".join(s.value.replace("_", " ") for s in suspensions)
        suspension = suspensions[-1]
        column = self.rule.suspend_column
        path = self._path(dataset, column) if column else None
        if path is not None and self._kind(dataset, path) in _FLAG_KINDS:
            return HoldCheck(
                CheckKind.FLAG,
                suspension,
                f"{words} (column {path.describe(dataset)} is true)",
                words,
                path=path,
            )
        if not required:
            return None
        why = (
            "the rule names no suspend_column"
            if not column
            else f"suspend_column '{column}' is not a boolean column found from '{dataset}'"
        )
        return HoldCheck(
            CheckKind.ALL,
            suspension,
            f"{words} cannot be checked: {why}, so every due row is kept",
            words,
        )

    def _restriction(
        self, dataset: Dataset, anchor: ColumnPath | None, *, own: bool
    ) -> list[HoldCheck]:
        checks: list[HoldCheck] = []
        flag = self._restriction_flag(dataset, anchor)
        if flag is not None:
            checks.append(
                HoldCheck(
                    CheckKind.FLAG,
                    Suspension.RESTRICTION,
                    f"processing is restricted (column {flag.describe(dataset.name)} is true)",
                    "restriction flag",
                    path=flag,
                )
            )
        if own:
            subjects = self._subjects(dataset.name, Suspension.RESTRICTION)
            if subjects.kind is CheckKind.SUBJECTS or flag is None:
                checks.append(subjects)
        return checks

    def _restriction_flag(self, dataset: Dataset, anchor: ColumnPath | None) -> ColumnPath | None:
        """The dataset's restriction flag, or that of a dataset on its anchor path."""
        if dataset.restriction_flag and dataset.restriction_flag in self.tables[dataset.name]:
            return ColumnPath((), dataset.restriction_flag)
        hops: list[Hop] = []
        for hop in anchor.hops if anchor else ():
            hops.append(hop)
            parent = _dataset(self.system, hop.parent)
            if parent and parent.restriction_flag:
                path = ColumnPath(tuple(hops), parent.restriction_flag)
                if self._kind(dataset.name, path) in _FLAG_KINDS:
                    return path
        return None

    def _subjects(self, dataset: str, suspension: Suspension) -> HoldCheck:
        what = (
            "a restriction of processing"
            if suspension is Suspension.RESTRICTION
            else ("an open request")
        )
        scope = locate(self.system, IDENTITY_KINDS)
        if scope.locator(dataset) is None:
            return HoldCheck(
                CheckKind.ALL,
                suspension,
                f"subjects with {what} cannot be found in '{dataset}' (no identity field or "
                "relation reaches it), so every due row is kept",
                suspension.value.replace("_", " "),
            )
        return HoldCheck(
            CheckKind.SUBJECTS,
            suspension,
            f"the row belongs to a subject with {what}",
            suspension.value.replace("_", " "),
        )

    # -- rows pointing at deleted rows ---------------------------------------------------------

    def _referrers(self, dataset: str) -> list[tuple[Dataset, Hop]]:
        """Every (child dataset, child -> dataset hop) from declared relations."""
        found: list[tuple[Dataset, Hop]] = []
        for child in self.system.datasets:
            for relation in child.relations:
                parent, _, column = relation.references.partition(".")
                if parent == dataset and child.name in self.tables:
                    found.append((child, Hop(relation.field, parent, column)))
        return found

    def _guards(self, dataset: str) -> list[Guard]:
        """One guard per declared relation pointing at ``dataset``."""
        return [
            Guard(child.name, hop.column, hop.parent_column)
            for child, hop in self._referrers(dataset)
            if hop.column in self.tables[child.name]
        ]

    def _children(
        self, dataset: str, below: tuple[Hop, ...], seen: set[str]
    ) -> Iterable[ChildStep]:
        """Children deepest first, each with the hops from it up to the unit."""
        for child, hop in self._referrers(dataset):
            if child.name in seen or child.name == self.dataset.name:
                continue
            info = self.tables[child.name].get(hop.column)
            if info is None:
                raise _Unbuildable(
                    f"relation column '{hop.column}' of dataset '{child.name}' does not exist"
                )
            hops = (hop, *below)
            unlink = info.nullable
            if not unlink:
                yield from self._children(child.name, hops, seen | {dataset})
            categories = frozenset(f.category for f in child.fields)
            yield ChildStep(
                dataset=child.name,
                hops=hops,
                unlink=unlink,
                key=self._key(child.name),
                holds=self._holds(child, None, categories, own=False),
                guards=() if unlink else tuple(self._guards(child.name)),
            )

    # -- columns ------------------------------------------------------------------------------

    def _path(self, dataset: str, column: str) -> ColumnPath | None:
        """``column`` in ``dataset`` or, breadth first, in a dataset its
        declared relations lead to (at most :data:`MAX_HOPS` of them)."""
        frontier: list[tuple[str, tuple[Hop, ...]]] = [(dataset, ())]
        seen = {dataset}
        for _ in range(MAX_HOPS + 1):
            following: list[tuple[str, tuple[Hop, ...]]] = []
            for name, hops in frontier:
                if column in self.tables.get(name, {}):
                    return ColumnPath(hops, column)
                declared = _dataset(self.system, name)
                for relation in declared.relations if declared else ():
                    parent, _, target = relation.references.partition(".")
                    if parent in seen or parent not in self.tables:
                        continue
                    if relation.field not in self.tables[name] or target not in self.tables[parent]:
                        continue
                    seen.add(parent)
                    following.append((parent, (*hops, Hop(relation.field, parent, target))))
            frontier = following
        return None

    def _kind(self, dataset: str, path: ColumnPath) -> ColumnKind:
        owner = path.dataset or dataset
        return self.tables[owner][path.column].kind

    def _require_time(self, path: ColumnPath, what: str) -> None:
        kind = self._kind(self.dataset.name, path)
        if kind not in _TIME_KINDS:
            raise _Unbuildable(
                f"{what} {path.describe(self.dataset.name)} holds {kind.value} values; "
                "retention compares dates and date-times only"
            )
