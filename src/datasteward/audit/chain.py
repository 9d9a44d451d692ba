"""Hash chains: the proof that an append-only log was not edited afterwards.

Each row carries the hash of the row before it, and its own hash covers its
sequence number, the previous hash and every field. Editing a row changes its
hash; deleting or inserting one breaks the sequence or the link; swapping two
rows breaks both. A separate *head* (last sequence number and hash) catches a
cut-off tail. What no chain can catch on its own is an attacker who rewrites
the whole chain and its head: anchor the head elsewhere (print it, send it to
the auditor) and compare with ``expected_head``.

The encoding is length-prefixed, so no choice of field values can make two
different rows encode to the same bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "ChainHead",
    "ChainRow",
    "Segment",
    "VerifyResult",
    "check_segment",
    "encode_fields",
    "row_hash",
    "row_material",
    "verify_chain",
    "verify_material_chain",
    "verify_segments",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first row of every chain."""

Field = str | int | bytes | None


def _encode(value: Field) -> str:
    if value is None:
        return "n;"
    if isinstance(value, str):
        return f"s{len(value)}:{value}"
    if isinstance(value, bytes):
        return f"b{len(value)}:{value.hex()}"
    return f"i{value};"


def _encode_text(fields: Sequence[Field]) -> str:
    # The common types inline (exact types only: a subclass, bool included,
    # goes through ``_encode`` like any other value); same text as ``_encode``.
    parts: list[str] = []
    append = parts.append
    values: Sequence[Any] = fields
    for v in values:
        cls = v.__class__
        if cls is str:
            append(f"s{len(v)}:{v}")
        elif v is None:
            append("n;")
        elif cls is int:
            append(f"i{v};")
        else:
            append(_encode(v))
    return "".join(parts)


def encode_fields(fields: Sequence[Field]) -> bytes:
    """Unambiguous bytes for a row's fields, in a fixed order.

    Each text is prefixed by its length in characters, so no choice of
    values makes two different rows encode alike."""
    return _encode_text(fields).encode("utf-8")


def row_material(seq: int, prev_hash: str, fields: Sequence[Field]) -> str:
    """The text :func:`row_hash` hashes (as UTF-8): what a store that builds
    it in SQL must produce for :func:`verify_material_chain`."""
    return f"{seq}\n{prev_hash}\n{_encode_text(fields)}"


def row_hash(seq: int, prev_hash: str, fields: Sequence[Field]) -> str:
    """SHA-256 over the sequence number, the previous hash and the fields."""
    head = f"{seq}\n{prev_hash}\n"
    return hashlib.sha256(head.encode("ascii") + encode_fields(fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One stored row as read back for verification."""

    seq: int
    prev_hash: str
    hash: str
    fields: Sequence[Field]


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last sequence number and hash, kept apart from the rows."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a verification; ``first_bad_seq`` names where it broke."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head: ChainHead | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "head": {"seq": self.head.seq, "hash": self.head.hash} if self.head else None,
        }


def verify_chain(
    rows: Iterable[ChainRow],
    head: ChainHead | None,
    *,
    expected_head: ChainHead | None = None,
) -> VerifyResult:
    """Walk rows in sequence order and report the first row that does not fit.

    ``head`` is the stored head; ``expected_head`` an anchor kept elsewhere,
    recorded at any earlier time: the chain must still pass through it (row
    ``expected_head.seq`` has that hash), however many rows came after."""
    watched = {h.seq for h in (head, expected_head) if h is not None}
    hashes: dict[int, str] = {0: GENESIS_HASH}
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    for row in rows:
        if row.seq != expected_seq:
            return _out_of_place(row.seq, expected_seq, checked)
        if row.prev_hash != prev:
            return VerifyResult(
                False, checked, row.seq, f"row {row.seq} does not link to row {row.seq - 1}"
            )
        if row_hash(row.seq, row.prev_hash, row.fields) != row.hash:
            return VerifyResult(
                False, checked, row.seq, f"row {row.seq} was altered (its hash does not match)"
            )
        if row.seq in watched:
            hashes[row.seq] = row.hash
        prev = row.hash
        expected_seq += 1
        checked += 1
    return _conclude(checked, ChainHead(expected_seq - 1, prev), hashes, head, expected_head)


def verify_material_chain(
    rows: Iterable[tuple[Any, Any, Any, Any]],
    head: ChainHead | None,
    *,
    fields_of: Callable[[int], Sequence[Field] | None],
    expected_head: ChainHead | None = None,
) -> VerifyResult:
    """:func:`verify_chain` for rows whose hashed text the store has already
    built: ``(seq, prev_hash, hash, material)`` where ``material`` is
    ``f"{seq}\\n{prev_hash}\\n"`` followed by :func:`encode_fields` of the
    row's fields as text, or None where the store could not build it.

    Exactly as strict as :func:`verify_chain`, only faster: the hash is still
    computed here (SHA-256 in C, a few Python operations per row), the store
    merely saves the per-field encoding in Python. A material whose hash does
    not match is never trusted either way: the row's fields are read back with
    ``fields_of(seq)`` and judged by :func:`row_hash` itself, so a store that
    encodes a value differently (text with a NUL character, a value of an
    unexpected type) can cost time but never hide or invent an alteration."""
    watched = {h.seq for h in (head, expected_head) if h is not None}
    hashes: dict[int, str] = {0: GENESIS_HASH}
    expected_seq = 1
    prev = GENESIS_HASH
    sha256 = hashlib.sha256
    for seq, prev_hash, digest, material in rows:
        if seq != expected_seq:
            return _out_of_place(seq, expected_seq, expected_seq - 1)
        if prev_hash != prev:
            return VerifyResult(False, seq - 1, seq, f"row {seq} does not link to row {seq - 1}")
        if material is None or sha256(material.encode("utf-8")).hexdigest() != digest:
            fields = fields_of(seq)
            if fields is None or row_hash(seq, prev_hash, fields) != digest:
                return VerifyResult(
                    False, seq - 1, seq, f"row {seq} was altered (its hash does not match)"
                )
        if seq in watched:
            hashes[seq] = digest
        prev = digest
        expected_seq += 1
    checked = expected_seq - 1
    return _conclude(checked, ChainHead(checked, prev), hashes, head, expected_head)


def _out_of_place(seq: object, expected_seq: int, checked: int) -> VerifyResult:
    if not isinstance(seq, int):
        reason = f"the row after row {expected_seq - 1} has no valid sequence number"
        return VerifyResult(False, checked, expected_seq, reason)
    reason = (
        f"row {expected_seq} is missing (next row is {seq})"
        if seq > expected_seq
        else f"row {seq} appears out of order or twice"
    )
    return VerifyResult(False, checked, min(seq, expected_seq), reason)


def _conclude(
    checked: int,
    last: ChainHead,
    hashes: dict[int, str],
    head: ChainHead | None,
    expected_head: ChainHead | None,
) -> VerifyResult:
    """Compare the end of a walk that found every row in place with the
    stored head and the anchor."""
    if head is None:
        if checked:
            return VerifyResult(False, checked, 1, "the chain head is missing", last)
    elif head != last:
        if head.seq > last.seq:
            reason = f"rows {last.seq + 1} to {head.seq} were removed from the end"
            return VerifyResult(False, checked, last.seq + 1, reason, last)
        if hashes.get(head.seq) != head.hash:
            bad = max(head.seq, 1)
            return VerifyResult(
                False, checked, bad, f"row {bad} does not match the chain head", last
            )
        reason = f"rows after {head.seq} were added without moving the chain head"
        return VerifyResult(False, checked, head.seq + 1, reason, last)
    if expected_head is not None:
        if expected_head.seq > last.seq:
            return VerifyResult(
                False, checked, last.seq + 1, "rows up to the anchored head are missing", last
            )
        if hashes.get(expected_head.seq) != expected_head.hash:
            bad = max(expected_head.seq, 1)
            return VerifyResult(
                False, checked, bad, f"row {bad} differs from the anchored head", last
            )
    return VerifyResult(True, checked, None, None, last)


# -- verifying a long chain in parallel ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """What :func:`check_segment` found in one stretch of a chain: enough for
    :func:`verify_segments` to join stretches checked apart (in other
    processes) into the verdict a single walk would give."""

    first_seq: int | None  # None: the stretch held no row
    first_prev_hash: str | None
    last_seq: int
    last_hash: str
    bad: VerifyResult | None  # the first failure inside the stretch
    hashes: dict[int, str]  # the watched rows' hashes


def check_segment(
    rows: Iterable[tuple[Any, Any, Any, Any]],
    *,
    fields_of: Callable[[int], Sequence[Field] | None],
    watched: Iterable[int] = (),
) -> Segment:
    """Check consecutive rows ``(seq, prev_hash, hash, material)`` as
    :func:`verify_material_chain` does, except the first row's number and
    link, which only the stretch before can judge (:func:`verify_segments`)."""
    watch = set(watched)
    hashes: dict[int, str] = {}
    sha256 = hashlib.sha256
    first: tuple[int, str] | None = None
    expected_seq = 0
    prev = ""
    for seq, prev_hash, digest, material in rows:
        if first is None:
            if not isinstance(seq, int):
                return Segment(None, None, 0, "", _out_of_place(seq, 1, 0), hashes)
            first, expected_seq, prev = (seq, prev_hash), seq, prev_hash
        if seq != expected_seq:
            bad = _out_of_place(seq, expected_seq, expected_seq - 1)
            return Segment(first[0], first[1], expected_seq - 1, prev, bad, hashes)
        if prev_hash != prev:
            bad = VerifyResult(False, seq - 1, seq, f"row {seq} does not link to row {seq - 1}")
            return Segment(first[0], first[1], seq - 1, prev, bad, hashes)
        if material is None or sha256(material.encode("utf-8")).hexdigest() != digest:
            fields = fields_of(seq)
            if fields is None or row_hash(seq, prev_hash, fields) != digest:
                reason = f"row {seq} was altered (its hash does not match)"
                bad = VerifyResult(False, seq - 1, seq, reason)
                return Segment(first[0], first[1], seq - 1, prev, bad, hashes)
        if seq in watch:
            hashes[seq] = digest
        prev = digest
        expected_seq += 1
    if first is None:
        return Segment(None, None, 0, "", None, hashes)
    return Segment(first[0], first[1], expected_seq - 1, prev, None, hashes)


def verify_segments(
    segments: Sequence[Segment],
    tail: Iterable[tuple[Any, Any, Any, Any]],
    head: ChainHead | None,
    *,
    fields_of: Callable[[int], Sequence[Field] | None],
    expected_head: ChainHead | None = None,
) -> VerifyResult:
    """The verdict of :func:`verify_material_chain` over the rows of
    ``segments`` (consecutive stretches of ``seq``, in order) followed by
    ``tail``, from the stretches' summaries: the same first failure, reason
    and count, and the same head and anchor checks."""
    hashes: dict[int, str] = {0: GENESIS_HASH}
    expected_seq = 1
    prev = GENESIS_HASH
    for segment in segments:
        if segment.first_seq is None:
            if segment.bad is not None:
                return segment.bad
            continue
        if segment.first_seq != expected_seq:
            return _out_of_place(segment.first_seq, expected_seq, expected_seq - 1)
        if segment.first_prev_hash != prev:
            seq = segment.first_seq
            return VerifyResult(False, seq - 1, seq, f"row {seq} does not link to row {seq - 1}")
        if segment.bad is not None:
            return segment.bad
        hashes.update(segment.hashes)
        expected_seq, prev = segment.last_seq + 1, segment.last_hash
    watched = {h.seq for h in (head, expected_head) if h is not None}
    sha256 = hashlib.sha256
    for seq, prev_hash, digest, material in tail:
        if seq != expected_seq:
            return _out_of_place(seq, expected_seq, expected_seq - 1)
        if prev_hash != prev:
            return VerifyResult(False, seq - 1, seq, f"row {seq} does not link to row {seq - 1}")
        if material is None or sha256(material.encode("utf-8")).hexdigest() != digest:
            fields = fields_of(seq)
            if fields is None or row_hash(seq, prev_hash, fields) != digest:
                reason = f"row {seq} was altered (its hash does not match)"
                return VerifyResult(False, seq - 1, seq, reason)
        if seq in watched:
            hashes[seq] = digest
        prev = digest
        expected_seq += 1
    checked = expected_seq - 1
    return _conclude(checked, ChainHead(checked, prev), hashes, head, expected_head)
