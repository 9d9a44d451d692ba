"""Rectification (Art. 16): which fields may be corrected, whether a new
value is fit to be written, and what the correction did. Pure.

A change names one declared field as ``system.dataset.field``. Every
declared field is rectifiable except the columns that tie rows together: the
dataset's primary key, its relation columns, and identity fields of kind
``customer_id`` (an internal number, not something a person can have wrong).
The policy has no per-field switch for this on purpose: Art. 16 covers all
inaccurate personal data, so the exceptions are the structural ones.

New values are checked at the edge, before anything is written, and a value
that fails is a problem of the plan:

* by meaning, where the engine knows one: a field that is an ``email``
  identity or whose data category is an email address (id ``email`` or DPV
  ``pd:EmailAddress``) must be an email address and is written in its
  canonical form (``datasteward.identity``); likewise phone numbers, written
  in E.164 (``+37120000000``);
* by the column: its type, its length, its range (an integer that does not
  fit, a date that does not exist), through the same reading the policy's
  ``erasure_value`` gets (:func:`~datasteward.fulfilment.columns.parse_literal`);
* never empty: an empty value does not correct data, it removes it, which is
  erasure's job.

Messages never repeat the value: it is personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from datasteward.errors import InvalidIdentity
from datasteward.fulfilment.columns import ColumnInfo, ColumnKind, parse_literal
from datasteward.identity.kinds import quoted
from datasteward.identity.normalise import normalise_email, normalise_phone
from datasteward.policy.model import Dataset, DatasetField, IdentityKind, Policy

__all__ = [
    "FieldRectification",
    "RectificationReport",
    "RectificationTarget",
    "not_rectifiable",
    "parse_targets",
    "rectified_value",
    "value_kind",
]

_EMAIL_DPV = "pd:EmailAddress"
_PHONE_DPV = "pd:TelephoneNumber"


@dataclass(frozen=True, slots=True)
class RectificationTarget:
    """One field to correct, named ``system.dataset.field``."""

    system: str
    dataset: str
    field: str

    @property
    def key(self) -> str:
        return f"{self.system}.{self.dataset}.{self.field}"


def parse_targets(
    changes: Mapping[str, str],
) -> tuple[dict[RectificationTarget, str], list[str]]:
    """The changes by target, and a problem for every key that is not of
    the form ``system.dataset.field``."""
    targets: dict[RectificationTarget, str] = {}
    problems: list[str] = []
    for key, value in changes.items():
        parts = key.split(".")
        if len(parts) != 3 or not all(parts):
            problems.append(
                f"'{key}' does not name a field: write system.dataset.field "
                "(e.g. shop.customers.phone)"
            )
            continue
        targets[RectificationTarget(*parts)] = value
    return targets, problems


def not_rectifiable(dataset: Dataset, declared: DatasetField) -> str | None:
    """Why ``declared`` cannot be rectified, or None when it can."""
    name = declared.name
    if name in dataset.primary_key:
        return f"field '{name}' is part of the primary key of '{dataset.name}'"
    if any(relation.field == name for relation in dataset.relations):
        return f"field '{name}' links rows of '{dataset.name}' to another dataset"
    if any(i.field == name and i.kind is IdentityKind.CUSTOMER_ID for i in dataset.identity_fields):
        return f"field '{name}' is the customer number, which rows are found by"
    return None


def value_kind(policy: Policy, dataset: Dataset, declared: DatasetField) -> str | None:
    """``email`` or ``phone`` when the field holds one (by its identity kind
    or its data category), else None."""
    for identity in dataset.identity_fields:
        if identity.field == declared.name and identity.kind in (
            IdentityKind.EMAIL,
            IdentityKind.PHONE,
        ):
            return identity.kind.value
    category = next((c for c in policy.data_categories if c.id == declared.category), None)
    dpv = category.dpv if category is not None else None
    if declared.category == "email" or dpv == _EMAIL_DPV:
        return "email"
    if declared.category == "phone" or dpv == _PHONE_DPV:
        return "phone"
    return None


def rectified_value(kind: str | None, column: ColumnInfo, text: str) -> object:
    """The value to write for ``text`` in ``column``, for a field holding
    values of ``kind`` (see :func:`value_kind`). Raises ``ValueError`` with
    a clause saying why it does not fit, which never repeats the value."""
    if not text.strip():
        raise ValueError(
            "the new value is empty; rectification corrects a value, erasure removes it"
        )
    value = text
    if kind is not None:
        try:
            value = normalise_email(text) if kind == "email" else normalise_phone(text)
        except InvalidIdentity as error:
            reason = error.reason.replace(quoted(text), "the new value")
            raise ValueError(f"not a valid {_KIND_WORDS[kind]}: {reason}") from None
    if column.kind is ColumnKind.OTHER:
        raise ValueError(
            f"column '{column.name}' has a type the engine does not know, so nothing shows "
            "that the new value fits"
        )
    try:
        return parse_literal(value, column)
    except ValueError as error:
        raise ValueError(f"the new value does not fit: {_without(str(error), value)}") from None


_KIND_WORDS = {"email": "email address", "phone": "phone number in international form"}


def _without(message: str, value: str) -> str:
    """``parse_literal`` never repeats the text; make sure of it anyway."""
    return message.replace(value, "the new value") if value else message


@dataclass(frozen=True)
class FieldRectification:
    """What rectification did to one field of one dataset. Never holds a value."""

    system: str
    dataset: str
    field: str
    rows_matched: int
    rows_changed: int

    @property
    def key(self) -> str:
        return f"{self.system}.{self.dataset}.{self.field}"

    def to_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "dataset": self.dataset,
            "field": self.field,
            "rows_matched": self.rows_matched,
            "rows_changed": self.rows_changed,
        }


@dataclass(frozen=True)
class RectificationReport:
    """The controller's record of an Art. 16 correction: per field, the
    subject's rows found and the rows whose value changed (a row that
    already held the new value is not counted). ``complete`` is false when
    some field found none of the subject's rows, with the reason listed."""

    complete: bool
    fields: list[FieldRectification] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "complete": self.complete,
            "reasons": list(self.reasons),
            "fields": [f.to_dict() for f in self.fields],
        }
