"""The words of a policy diff: which fields of two versions of an item differ,
and one short phrase for each.

A diff is read by a DPO before a new policy version takes effect, so every
change names the field in plain words ("legal bases added 'consent'") and
keeps long text out of the way: a reworded description says "reworded"
rather than repeating two paragraphs."""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

from pydantic import BaseModel

from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.model import (
    Cookie,
    DataCategory,
    DataSubject,
    LegalHold,
    ProcessingActivity,
    Purpose,
    Recipient,
    RetentionRule,
    SecurityMeasure,
    System,
)

__all__ = ["NOUNS", "FieldChange", "brief", "delta", "field_changes", "quoted", "text"]

NOUNS: dict[str, str] = {
    "data_subjects": "data subject",
    "data_categories": "data category",
    "purposes": "purpose",
    "processing_activities": "activity",
    "recipients": "recipient",
    "cookies": "cookie",
    "retention_rules": "retention rule",
    "legal_holds": "legal hold",
    "systems": "system",
    "security": "security measure",
}
"""How a summary names one item of each list section."""

LONG_TEXT = 60
"""Text longer than this is reported as reworded, not quoted."""


def quoted(items: Sequence[str]) -> str:
    """``'a', 'b'`` for a list of ids."""
    return ", ".join(f"'{item}'" for item in items)


def _clip(value: str, limit: int = LONG_TEXT) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def text(value: object) -> str:
    """A short rendering of one policy value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return f"'{value.value}'"
    if isinstance(value, IsoDuration):
        return value.describe()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return f"'{_clip(value)}'"
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        inner = ", ".join(f"{k} {_plain(v)}" for k, v in dumped.items())
        return "(" + _clip(inner, 2 * LONG_TEXT) + ")"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{text(k)}: {text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _plain(value: object) -> str:
    """A JSON value from a model dump: text quoted like ids, the rest as JSON."""
    if isinstance(value, str):
        return f"'{_clip(value)}'"
    return json.dumps(value, ensure_ascii=False)


def _items(value: object) -> list[str]:
    if isinstance(value, dict):
        return [f"{text(k)}: {text(v)}" for k, v in value.items()]
    assert isinstance(value, list | tuple)
    return [text(v) for v in value]


def delta(old: object, new: object) -> str:
    """How ``old`` became ``new``, e.g. ``'P1M' -> 'P1Y'`` or ``added 'phone'``."""
    if old is None:
        return f"set to {text(new)}"
    if new is None:
        return f"removed (was {text(old)})"
    if isinstance(old, list | tuple | dict) and isinstance(new, list | tuple | dict):
        before, after = _items(old), _items(new)
        parts = []
        added = [t for t in dict.fromkeys(after) if t not in before]
        gone = [t for t in dict.fromkeys(before) if t not in after]
        if added:
            parts.append("added " + ", ".join(added))
        if gone:
            parts.append("removed " + ", ".join(gone))
        return "; ".join(parts) if parts else "reordered"
    if isinstance(old, BaseModel) and isinstance(new, BaseModel) and type(old) is type(new):
        inner = field_changes(old, new)
        return ", ".join(fc.describe() for fc in inner) if inner else "changed"
    texts = isinstance(old, str) and isinstance(new, str) and not isinstance(old, Enum)
    if texts and max(len(str(old)), len(str(new))) > LONG_TEXT:
        return "reworded"
    return f"{text(old)} -> {text(new)}"


@dataclass(frozen=True)
class FieldChange:
    """One field of an item that differs between the two versions."""

    name: str
    """Attribute name in the model."""
    key: str
    """Key in the policy file (differs from ``name`` where the model uses an alias)."""
    old: object
    new: object

    def describe(self) -> str:
        return f"{self.key.replace('_', ' ')} {delta(self.old, self.new)}"


def field_changes(old: BaseModel, new: BaseModel, skip: Container[str] = ()) -> list[FieldChange]:
    """Fields whose values differ, in the model's declaration order."""
    found = []
    for name, info in type(new).model_fields.items():
        if name in skip:
            continue
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            found.append(FieldChange(name, info.alias or name, before, after))
    return found


def brief(item: BaseModel) -> str:
    """What an added or removed item is, in a few words."""
    if isinstance(item, DataSubject | DataCategory):
        special = ", a special category" if isinstance(item, DataCategory) and item.special else ""
        return f"{item.name}{special}"
    if isinstance(item, Purpose):
        bases = ", ".join(b.value for b in item.legal_bases) or "no legal basis"
        return f"{item.name}; legal bases: {bases}"
    if isinstance(item, ProcessingActivity):
        return f"{item.name}; serves {quoted(item.purposes)}"
    if isinstance(item, Recipient):
        where = f", {item.country}" if item.country else ""
        return f"{item.name}, {item.role.value}{where}"
    if isinstance(item, Cookie):
        if item.duration is not None:
            lasts = item.duration.describe()
        else:
            lasts = "session" if item.session else "lifetime not stated"
        return f"provider '{item.provider}', purpose '{item.purpose}', {lasts}"
    if isinstance(item, RetentionRule):
        period = item.period.describe() if item.period is not None else "no fixed period"
        return f"{period} from {item.anchor.event.value}"
    if isinstance(item, LegalHold):
        return f"{_clip(item.law)}, {item.period.describe()}"
    if isinstance(item, System):
        where = f", {item.country}" if item.country else ""
        return f"{item.name}, {item.connector.value}{where}"
    if isinstance(item, SecurityMeasure):
        return _clip(item.description)
    return ""
