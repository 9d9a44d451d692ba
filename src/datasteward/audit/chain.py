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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "GENESIS_HASH",
    "ChainHead",
    "ChainRow",
    "VerifyResult",
    "encode_fields",
    "row_hash",
    "verify_chain",
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


def encode_fields(fields: Sequence[Field]) -> bytes:
    """Unambiguous bytes for a row's fields, in a fixed order.

    Each text is prefixed by its length in characters, so no choice of
    values makes two different rows encode alike."""
    return "".join([_encode(v) for v in fields]).encode("utf-8")


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
            reason = (
                f"row {expected_seq} is missing (next row is {row.seq})"
                if row.seq > expected_seq
                else f"row {row.seq} appears out of order or twice"
            )
            return VerifyResult(False, checked, min(row.seq, expected_seq), reason)
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
    last = ChainHead(expected_seq - 1, prev)
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
